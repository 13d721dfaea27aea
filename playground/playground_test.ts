// The playground in a real browser: headless Chromium (Debian's `chromium`,
// which .ci/run installs) driven by puppeteer-core. The page is built from
// the working tree into a temporary folder and served as `deno task
// playground` serves it; links open it with a passing and a failing
// scenario. Where no browser can be had the tests are skipped, saying so.
/// <reference lib="dom" />
import assert from "node:assert/strict";
import { optionalNpm, SKIPPED_NO_REGISTRY } from "../tests/optional_npm.ts";
import { buildPlayground } from "./build.ts";
import { servePlayground } from "./serve.ts";
import { scenarioFromHash, scenarioLink } from "./src/link.ts";

const HERE = new URL("./", import.meta.url).pathname;
const PASS = Deno.readTextFileSync(new URL("../tests/fixtures/cli/pass.scn", import.meta.url));
const FAIL = Deno.readTextFileSync(
  new URL("../tests/fixtures/pictures/redelivery_two_cpus.scn", import.meta.url),
);
/** The screenshot the README shows; written when the test may write it. */
const SCREENSHOT = `${HERE}screenshot.png`;

function findChromium(): string | undefined {
  const candidates = [
    Deno.env.get("CHROME_PATH"),
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
  ];
  return candidates.find((p) => {
    if (!p) return false;
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  });
}

/** The part of puppeteer-core's `Page` used here. */
interface Page {
  setViewport(size: { width: number; height: number }): Promise<void>;
  on(event: "request", handler: (request: { url(): string }) => void): void;
  on(event: "pageerror", handler: (error: Error) => void): void;
  goto(url: string, options?: { waitUntil: "load" }): Promise<unknown>;
  waitForSelector(selector: string, options: { timeout: number }): Promise<unknown>;
  waitForFunction(predicate: () => boolean): Promise<unknown>;
  $eval<T>(selector: string, f: (element: Element) => T): Promise<T>;
  $$eval<T>(selector: string, f: (elements: Element[]) => T): Promise<T>;
  $$(selector: string): Promise<unknown[]>;
  screenshot(options: { type: "png" }): Promise<Uint8Array>;
  select(selector: string, value: string): Promise<string[]>;
  click(selector: string): Promise<void>;
}
/** The part of puppeteer-core's `Browser` used here. */
interface Browser {
  newPage(): Promise<Page>;
  close(): Promise<void>;
}
/** The part of puppeteer-core used here. */
interface Puppeteer {
  launch(options: {
    executablePath?: string;
    headless: boolean;
    pipe: boolean;
    userDataDir: string;
    args: string[];
  }): Promise<Browser>;
}

const puppeteer = (await optionalNpm<{ default: Puppeteer }>(
  "npm:puppeteer-core@25.16.0",
  "playground_test",
))?.default;
const CHROMIUM = findChromium();
if (!CHROMIUM) {
  console.warn(
    "playground_test: SKIPPED: no Chromium here (apt-get install -y chromium, or set CHROME_PATH)",
  );
}
/** Why the browser tests cannot run here, or `undefined` when they can. */
const SKIP = !puppeteer ? SKIPPED_NO_REGISTRY : !CHROMIUM ? " (skipped: no Chromium)" : undefined;

/** A built page, served, and a browser: what every test below uses. */
interface Rig {
  /** The built page's folder. */
  root: string;
  browser: Browser;
  origin: string;
  requests: string[];
  close(): Promise<void>;
}

async function rig(): Promise<Rig> {
  const root = Deno.makeTempDirSync({ prefix: "irqlab-playground-" }) + "/";
  Deno.copyFileSync(`${HERE}index.html`, `${root}index.html`);
  Deno.mkdirSync(`${root}dist`);
  // CodeMirror as committed (no registry needed); the rest from the working tree.
  Deno.copyFileSync(`${HERE}dist/codemirror.js`, `${root}dist/codemirror.js`);
  await buildPlayground({ outDir: `${root}dist` });
  let origin = "";
  const server = servePlayground(0, (url) => (origin = url.replace(/\/$/, "")), root);
  const browser = await puppeteer!.launch({
    executablePath: CHROMIUM,
    headless: true,
    pipe: true,
    userDataDir: `${root}profile`,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
  });
  const requests: string[] = [];
  return {
    root,
    browser,
    get origin() {
      return origin;
    },
    requests,
    async close() {
      await browser.close();
      await server.shutdown();
      Deno.removeSync(root, { recursive: true });
    },
  };
}

/**
 * A test in the browser, given a built and served page: ignored, saying why, where there is no
 * browser or no puppeteer-core. Puppeteer's pipe and timers outlive a test's await points, so the
 * sanitizers are off; the rig is always closed.
 */
function browserTest(name: string, fn: (r: Rig) => Promise<void>): void {
  Deno.test({
    name: name + (SKIP ?? ""),
    ignore: SKIP !== undefined,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const r = await rig();
      try {
        await fn(r);
      } finally {
        await r.close();
      }
    },
  });
}

async function open(r: Rig, hash: string): Promise<Page> {
  const page = await r.browser.newPage();
  await page.setViewport({ width: 1280, height: 760 });
  page.on("request", (req) => void r.requests.push(req.url()));
  const errors: string[] = [];
  page.on("pageerror", (e) => void errors.push(String(e)));
  await page.goto(`${r.origin}/${hash}`, { waitUntil: "load" });
  await page.waitForSelector("body[data-ready='1']", { timeout: 20_000 });
  assert.deepEqual(errors, [], "the page raised no error");
  return page;
}

const text = (page: Page, selector: string) =>
  page.$eval(selector, (e) => (e as HTMLElement).innerText);

browserTest(
  "playground: a link with a passing scenario opens it, runs it and says PASS; so do the files alone",
  async (r) => {
    const page = await open(r, `#scn=${scenarioLink("", PASS).split("#scn=")[1]}`);
    assert.equal(await text(page, "#status"), "PASS");
    // The editor holds the scenario from the link, highlighted by the grammar's rules.
    const doc = await page.$eval(".cm-content", (e) => (e as HTMLElement).innerText);
    assert.ok(doc.includes("an IPI to self is taken once"));
    assert.ok((await page.$$(".cm-failed-line")).length === 0);
    const took = await page.$$eval(
      "#timeline svg g.ev.took title",
      (ts) => ts.map((t) => t.textContent),
    );
    assert.ok(took.length >= 1, "the SVG holds the take");
    // Every request went to the page's own server: nothing from outside.
    assert.ok(r.requests.length >= 4);
    for (const u of r.requests) assert.ok(u.startsWith(r.origin + "/"), u);

    // The files alone, opened from disk with no server, do the same.
    const fromDisk = await r.browser.newPage();
    await fromDisk.goto(
      `file://${r.root}index.html#scn=${scenarioLink("", FAIL).split("#scn=")[1]}`,
    );
    await fromDisk.waitForSelector("body[data-ready='1']", { timeout: 20_000 });
    assert.equal(await text(fromDisk, "#status"), "FAIL");
    assert.equal((await fromDisk.$$("#timeline svg g.ev.took")).length, 2);
  },
);

browserTest(
  "playground: a link with a failing scenario marks the failed lines and draws the take",
  async (r) => {
    const page = await open(r, `#scn=${scenarioLink("", FAIL).split("#scn=")[1]}`);
    assert.equal(await text(page, "#status"), "FAIL");
    const report = await text(page, "#report");
    assert.match(report, /scenario\.scn:15:1: expect vcpu0 took 0x9a once/);
    assert.match(report, /actual: {3}0x9a, 0x9a/);
    // The failed expectations' lines are marked in the editor, with why on hover.
    const marked = await page.$$eval(
      ".cm-failed-line",
      (ls) => ls.map((l) => [(l as HTMLElement).innerText, l.getAttribute("title")]),
    );
    assert.deepEqual(marked.map(([t]) => t), [
      "expect vcpu0 took 0x9a once",
      "expect vcpu1 took 0x9a once",
    ]);
    assert.match(marked[0][1]!, /expected 0x9a 1 time\(s\); actual 0x9a, 0x9a/);
    // The SVG timeline: lanes, the taken vector (twice), the failure band.
    const lanes = await page.$$eval(
      "#timeline svg g.lane",
      (g) => g.map((x) => x.getAttribute("data-lane")),
    );
    assert.deepEqual(lanes, ["device nic", "kvm", "ioapic", "lapic0", "vcpu0", "lapic1"]);
    const took = await page.$$eval(
      "#timeline svg g.ev.took title",
      (ts) => ts.map((t) => t.textContent),
    );
    assert.equal(took.length, 2);
    for (const t of took) assert.match(t!, /vcpu0 took: 0x9a/);
    assert.equal((await page.$$("#timeline svg g.failure")).length, 2);
    // The RTE written on line 9, decoded from the IOAPIC's field table.
    assert.match(
      await text(page, "#decoded"),
      /line 9: IOREDTBL20 0x809a: vector=0x9a .*trigger=level/,
    );

    // What the screenshot shows (looked at when it was made): the red FAIL
    // badge, the two marked lines in the editor, and the timeline with its
    // lanes and the first take, all inside the picture.
    const png = await page.screenshot({ type: "png" });
    assert.ok(png.length > 10_000);
    const canWrite = (await Deno.permissions.query({ name: "write", path: SCREENSHOT })).state;
    if (canWrite === "granted") Deno.writeFileSync(SCREENSHOT, png);
    const inView = (sel: string) =>
      page.$eval(sel, (e) => {
        const b = e.getBoundingClientRect();
        return b.width > 0 && b.top >= 0 && b.bottom <= innerHeight && b.left >= 0 &&
          b.right <= innerWidth;
      });
    assert.ok(await inView("#status"));
    assert.equal(
      await page.$eval("#status", (e) => getComputedStyle(e).backgroundColor),
      "rgb(207, 34, 46)",
    );
    assert.ok(await inView(".cm-failed-line"));
    assert.ok(await inView("#timeline svg g.lane text"));
    assert.ok(await inView("#timeline svg g.ev.took circle"));
    assert.equal(
      await page.$eval("#timeline svg g.ev.took circle", (c) => c.getAttribute("fill")),
      "#1f6feb",
      "the take is the filled blue dot",
    );
    for (const u of r.requests) assert.ok(u.startsWith(r.origin + "/"), u);
  },
);

browserTest(
  "playground: the library menu, explore, format and copy link work in the page",
  async (r) => {
    const page = await open(r, "");
    // With no link, the README's scenario is shown and run.
    assert.equal(await text(page, "#name"), "scenarios/x86/readme_level_redelivery.scn");
    assert.equal(await text(page, "#status"), "PASS");
    // A race from the library: explore finds the failing order it is tagged with.
    const race = "scenarios/races/ioapic_level_eoi_vs_reassert.scn";
    const options = await page.$$eval(
      "#library option",
      (os) => os.map((o) => (o as HTMLOptionElement).value),
    );
    assert.ok(options.includes(race));
    assert.ok(!options.some((o) => /\/_[^/]*$/.test(o)), "fragments are not in the menu");
    await page.select("#library", race);
    await page.click("#explore");
    await page.waitForFunction(() =>
      document.getElementById("report")!.innerText.includes("passed")
    );
    assert.match(await text(page, "#status"), /^(PASS|XFAIL|FAIL)$/);
    // Format: a scenario in a loose layout comes back in the canonical one.
    const loose = 'scenario   "t"\nvm g {   arch x86_64 }\nrun\n';
    const page2 = await open(r, `#scn=${scenarioLink("", loose).split("#scn=")[1]}`);
    await page2.click("#format");
    const formatted = await page2.$eval(".cm-content", (e) => (e as HTMLElement).innerText);
    assert.ok(formatted.startsWith('scenario "t"'), formatted);
    // Copy link: the link holds the editor's text.
    await page2.click("#copy");
    const link = await page2.$eval("#link", (e) => (e as HTMLInputElement).value);
    assert.equal(scenarioFromHash(new URL(link).hash), formatted.replace(/\n*$/, "\n"));
  },
);
