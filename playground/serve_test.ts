import assert from "node:assert/strict";
import { servePlayground, staticResponse } from "./serve.ts";

Deno.test("the playground server gives its own files and nothing above or beside them", async () => {
  const index = await staticResponse("/");
  assert.equal(index.status, 200);
  assert.equal(index.headers.get("content-type"), "text/html; charset=utf-8");
  assert.match(await index.text(), /<title>irqlab playground<\/title>/);
  for (
    const bad of [
      "/../deno.json",
      "/%2e%2e/deno.json",
      "/dist/../../mod.ts",
      "/.git/config",
      "/serve.ts",
    ]
  ) {
    const r = await staticResponse(bad);
    assert.equal(r.status, 404, bad);
    await r.body?.cancel();
  }
});

Deno.test("the playground server listens on 127.0.0.1 only, on the port asked for", async () => {
  let url = "";
  const server = servePlayground(0, (u) => (url = u));
  try {
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const r = await fetch(url + "dist/library.js");
    assert.equal(r.status, 200);
    assert.match(await r.text(), /globalThis\.irqlabLibrary = \{"scenarios\//);
    const post = await fetch(url, { method: "POST" });
    assert.equal(post.status, 405);
    await post.body?.cancel();
  } finally {
    await server.shutdown();
  }
});
