import assert from "node:assert/strict";
import { GICV5_OPS } from "./gicv5_cpu_interface.ts";

Deno.test("GICV5_OPS: the 9 GIC CD* and 2 GICR CD* instructions and the 35 EL1 registers no-vgic.c tries, each once", () => {
  const by = (k: string) => GICV5_OPS.filter((o) => o.kind === k);
  assert.equal(by("gic").length, 9);
  assert.equal(by("gicr").length, 2);
  assert.equal(by("icc").length, 35);
  assert.equal(new Set(GICV5_OPS.map((o) => o.title)).size, GICV5_OPS.length);
  assert.deepEqual(
    by("icc").filter((o) => o.access === "ro").map((o) => o.title),
    [
      "ICC_HPPIR_EL1",
      "ICC_IAFFIDR_EL1",
      "ICC_IDR0_EL1",
      "ICC_PPI_HMR0_EL1",
      "ICC_PPI_HMR1_EL1",
    ],
  );
});
