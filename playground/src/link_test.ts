import assert from "node:assert/strict";
import { decodeScenario, encodeScenario, scenarioFromHash, scenarioLink } from "./link.ts";

Deno.test("a scenario survives the trip through a link, whatever its characters", () => {
  for (const text of ["", "run\n", 'scenario "µ — ü ✓"\n# ü\n', "x".repeat(100_000)]) {
    const link = scenarioLink("http://127.0.0.1:8123/index.html#old", text);
    assert.match(link, /^http:\/\/127\.0\.0\.1:8123\/index\.html#scn=[A-Za-z0-9_-]*$/);
    assert.equal(scenarioFromHash(new URL(link).hash), text);
  }
});

Deno.test("links are base64url without padding (RFC 4648 section 5)", () => {
  assert.equal(encodeScenario("??>"), "Pz8-");
  assert.equal(encodeScenario("a"), "YQ");
  assert.equal(decodeScenario("Pz8-"), "??>");
});

Deno.test("a mangled link is no scenario, not garbage text", () => {
  assert.equal(decodeScenario("a"), undefined); // cut to one character of a group
  assert.equal(decodeScenario("Pz8+"), undefined); // plain base64, not base64url
  assert.equal(decodeScenario("_w"), undefined); // 0xff: not UTF-8
  assert.equal(scenarioFromHash("#other=1"), undefined);
});
