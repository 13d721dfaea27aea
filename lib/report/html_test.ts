import assert from "node:assert/strict";
import { processFile } from "../cli/process.ts";
import { htmlReport } from "./html.ts";
import { escapeXml } from "./svg.ts";

const FIXTURE = "tests/fixtures/pictures/redelivery_two_cpus.scn";
const PASS = "tests/fixtures/cli/pass.scn";

function page(...files: string[]): string {
  return htmlReport(files.map((file) => ({
    outcome: processFile(file, "run"),
    source: { path: file, text: Deno.readTextFileSync(file) },
  })));
}

/**
 * Every way an HTML page can make a browser fetch something: elements that
 * load, attributes that name a URL, CSS that imports or points at one.
 */
function externalReferences(html: string): string[] {
  const found: string[] = [];
  for (
    const m of html.matchAll(
      /<(script|link|img|iframe|object|embed|audio|video|source|base|image|use|foreignObject)\b/gi,
    )
  ) {
    found.push(`<${m[1]}>`);
  }
  for (
    const m of html.matchAll(
      /\s(src|href|xlink:href|srcset|action|formaction|poster|data)\s*=\s*"([^"]*)"/gi,
    )
  ) {
    found.push(`${m[1]}="${m[2]}"`);
  }
  for (const m of html.matchAll(/url\(\s*([^)]*)\)/gi)) {
    // A reference to a marker in the same SVG is not a load.
    if (!/^#[\w-]+$/.test(m[1])) found.push(`url(${m[1]})`);
  }
  for (const m of html.matchAll(/@import[^;<]*/gi)) found.push(m[0]);
  return found;
}

Deno.test("htmlReport() is one page that loads nothing from outside itself", () => {
  const html = page(FIXTURE, PASS);
  assert.deepEqual(externalReferences(html), []);
  // And tells the browser to refuse anything that would.
  assert.match(
    html,
    /Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"/,
  );
  // The check itself finds what it is for.
  assert.deepEqual(
    externalReferences('<img src="https://x/y.png"><style>@import "a.css"</style>'),
    ["<img>", 'src="https://x/y.png"', '@import "a.css"'],
  );
});

Deno.test("htmlReport() marks the failing lines of the source and says why on hover", () => {
  const html = page(FIXTURE);
  const failed = [...html.matchAll(/<span data-line="(\d+)" class="failed" title="([^"]*)"/g)];
  assert.deepEqual(failed.map((m) => Number(m[1])), [15, 16]);
  assert.match(
    failed[0][2],
    /expect vcpu0 took 0x9a once: expected 0x9a 1 time\(s\); actual 0x9a, 0x9a/,
  );
});

Deno.test("htmlReport() draws the timeline with the taken vector, cause arrows and the failure", () => {
  const html = page(FIXTURE);
  const svg = html.slice(html.indexOf("<svg"), html.indexOf("</svg>") + 6);
  const took = [
    ...svg.matchAll(/<g class="ev took" data-id="(\d+)"[^>]*><title>([^<]*)<\/title>/g),
  ];
  assert.equal(took.length, 2);
  assert.match(took[0][2], /vcpu0 took: 0x9a/);
  assert.ok(svg.includes('marker-end="url(#tl0-arrow)"'));
  assert.equal([...svg.matchAll(/<g class="failure" data-line="(\d+)"/g)].length, 2);
  for (const lane of ["device nic", "kvm", "ioapic", "lapic0", "vcpu0"]) {
    assert.ok(svg.includes(`data-lane="${lane}"`), lane);
  }
});

Deno.test("htmlReport() shows the decoded numbers of the scenario", () => {
  const html = page(FIXTURE);
  assert.match(
    html,
    /<h3>Decoded numbers<\/h3><ul class="decoded"><li>line 9: IOREDTBL20 0x809a: vector=0x9a/,
  );
  assert.match(html, /<span data-line="9" class="decoded" title="IOREDTBL20 0x809a/);
});

Deno.test("htmlReport() escapes what a scenario says, so a stranger's scenario cannot add markup", () => {
  const text = 'scenario "<script>alert(1)</script> & \\"x\\""\nvm g { arch x86_64 }\nrun\n';
  const dir = Deno.makeTempDirSync({ prefix: "irqlab_html_" });
  const file = `${dir}/escape.scn`;
  Deno.writeTextFileSync(file, text);
  try {
    const html = htmlReport([{ outcome: processFile(file, "run"), source: { path: file, text } }]);
    assert.ok(!html.includes("<script>"));
    assert.ok(html.includes("&lt;script&gt;alert(1)&lt;/script&gt; &amp;"));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
  assert.equal(escapeXml("a\x07b"), "a\ufffdb");
});

Deno.test("htmlReport() page snapshot", async (t) => {
  await t.assertSnapshot(page(FIXTURE));
});
