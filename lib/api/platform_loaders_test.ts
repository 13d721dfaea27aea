import assert from "node:assert/strict";
import { PLATFORMS } from "./platforms.ts";
import { loadPlatforms, PART_WORDS, PLATFORM_LOADERS } from "./platform_loaders.ts";

Deno.test("PLATFORM_LOADERS name and load every platform of PLATFORMS, in its order", async () => {
  assert.deepEqual(PLATFORM_LOADERS.map((l) => l.arch), PLATFORMS.map((p) => p.arch));
  const loaded = await Promise.all(PLATFORM_LOADERS.map((l) => l.load()));
  loaded.forEach((p, i) => assert.equal(p, PLATFORMS[i]));
});

Deno.test("loadPlatforms() loads the platforms named, in PLATFORMS' order", async () => {
  const [x86, arm] = PLATFORMS;
  assert.deepEqual(await loadPlatforms(["x86_64"]), [x86]);
  assert.deepEqual(await loadPlatforms(["arm64", "x86_64", "arm64"]), [x86, arm]);
  assert.deepEqual(await loadPlatforms([]), []);
});

Deno.test("loadPlatforms() loads every platform for a name it cannot place", async () => {
  assert.deepEqual(await loadPlatforms(["x86_64", undefined]), [...PLATFORMS]);
  assert.deepEqual(await loadPlatforms(["riscv64"]), [...PLATFORMS]);
});

Deno.test("PART_WORDS are settings of a platform", () => {
  const settings = PLATFORMS.flatMap((p) => p.settings.map((s) => s.name));
  for (const w of PART_WORDS) assert.ok(settings.includes(w), w);
});
