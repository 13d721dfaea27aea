import assert from "node:assert/strict";
import { ModelPart } from "./model_part.ts";

Deno.test("a model part is what its module provided; asked for before that, an internal error names it", () => {
  const slot = new ModelPart<{ n: number }>("the test's part (./part.ts)");
  assert.throws(
    () => slot.get(),
    /internal error: a VM needing the test's part \(\.\/part\.ts\) was built before it was loaded/,
  );
  const part = { n: 7 };
  slot.provide(part);
  assert.equal(slot.get(), part);
});
