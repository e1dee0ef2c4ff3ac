// The guide in a real browser: Debian's Chromium driven by playwright-core (pinned in package.json),
// with no network. Run by consumers/site_check.py, which serves the built site on 127.0.0.1 and
// passes one JSON argument:
//   {"chromium": "/usr/bin/chromium", "base": "http://127.0.0.1:<port>/", "pages": ["index.html", ...],
//    "searches": [{"from": "index.html", "query": "idempotency"}], "timeoutMs": 15000}
// It prints one JSON report on standard output:
//   {"pages": [{"page", "status", "title", "textLength", "consoleErrors", "pageErrors"}],
//    "searches": [{"query", "results": [{"title", "href"}], "error"}],
//    "requests": [{"url", "page"}], "blocked": [...], "failed": [...], "bad_responses": [...]}
// Every request any page makes is recorded (workers included). Only the served site's own origin is
// let through; anything else is aborted before it leaves and listed under "blocked", and Chromium
// itself resolves no host name but 127.0.0.1 (--host-resolver-rules), so nothing leaves the machine
// even for a request the driver would not see.
import { chromium } from "playwright-core";

const input = JSON.parse(process.argv[2]);
const base = new URL(input.base);
const timeout = input.timeoutMs ?? 15000;

const isLocal = (url) => {
  if (url.startsWith("data:") || url.startsWith("blob:") || url.startsWith("about:")) return true;
  const parsed = new URL(url);
  return parsed.protocol === "file:" || parsed.origin === base.origin;
};

const browser = await chromium.launch({
  executablePath: input.chromium,
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-features=MediaRouter,OptimizationHints,Translate",
    `--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE ${base.hostname}`,
  ],
});
const report = { pages: [], searches: [], requests: [], blocked: [], failed: [], bad_responses: [] };
let current = "";
try {
  const context = await browser.newContext({ serviceWorkers: "block" });
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (isLocal(url)) return route.continue();
    report.blocked.push({ url, page: current });
    return route.abort("blockedbyclient");
  });
  context.on("request", (request) => report.requests.push({ url: request.url(), page: current }));
  context.on("response", (response) => {
    if (response.status() >= 400) {
      report.bad_responses.push({ url: response.url(), page: current, status: response.status() });
    }
  });
  context.on("requestfailed", (request) => {
    const failure = request.failure();
    report.failed.push({ url: request.url(), page: current, error: failure ? failure.errorText : "" });
  });
  const page = await context.newPage();
  page.setDefaultTimeout(timeout);
  let consoleErrors = [];
  let pageErrors = [];
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  page.on("worker", (worker) => {
    worker.on("console", (message) => {
      if (message.type() === "error") consoleErrors.push(`worker: ${message.text()}`);
    });
  });

  for (const path of input.pages) {
    current = path;
    consoleErrors = [];
    pageErrors = [];
    const response = await page.goto(new URL(path, base).href, { waitUntil: "load" });
    await page.waitForLoadState("networkidle");
    const title = await page.title();
    const textLength = await page.evaluate(() => document.body.innerText.trim().length);
    report.pages.push({
      page: path,
      status: response ? response.status() : 0,
      title,
      textLength,
      consoleErrors,
      pageErrors,
    });
  }

  for (const search of input.searches ?? []) {
    current = `search:${search.query}`;
    const entry = { query: search.query, results: [], error: "" };
    try {
      await page.goto(new URL(search.from, base).href, { waitUntil: "load" });
      // Material's search: the header's input, results rendered by its worker as they arrive.
      // A reader's way in: the search box in the header (the page is wide enough to show it).
      const box = page.locator("input.md-search__input");
      await box.click();
      await box.pressSequentially(search.query);
      await page.locator(".md-search-result__item").first().waitFor({ state: "visible" });
      entry.results = await page.locator(".md-search-result__item > a").evaluateAll((links) =>
        links.map((a) => ({
          title: (a.querySelector("h1, h2") || a).textContent.trim(),
          href: a.getAttribute("href"),
        })),
      );
    } catch (error) {
      entry.error = String(error);
    }
    report.searches.push(entry);
  }
  await context.close();
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(report));
