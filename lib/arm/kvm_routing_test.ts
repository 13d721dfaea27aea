import assert from "node:assert/strict";
import { ArmGsiRouting, type ArmRoute } from "./kvm_routing.ts";

const route = (gsi: number, over: Partial<ArmRoute> = {}): ArmRoute => ({
  gsi,
  type: "irqchip",
  irqchip: 0,
  pin: gsi,
  addressLo: 0,
  addressHi: 0,
  data: 0,
  flags: 0,
  devid: 0,
  ...over,
});

Deno.test("ArmGsiRouting.set() keeps the old table when an entry is refused", () => {
  const r = new ArmGsiRouting();
  r.setDefault(32);
  assert.equal(r.set([route(1), route(1, { pin: 2 })]), -22);
  assert.equal(r.routes(5)[0].pin, 5);
  assert.equal(r.set([route(1, { type: "msi", flags: 1, devid: 7 })]), 0);
  assert.deepEqual(r.routes(5), []);
  assert.equal(r.routes(1)[0].devid, 7);
});

Deno.test("ArmGsiRouting.set() takes KVM_MSI_VALID_DEVID only on MSI entries and pins of the one vGIC", () => {
  const r = new ArmGsiRouting();
  assert.equal(r.set([route(0, { flags: 1 })]), -22);
  assert.equal(r.set([route(0, { type: "msi", flags: 3 })]), -22);
  assert.equal(r.set([route(0, { pin: 988 })]), -22);
  assert.equal(r.set([route(0, { pin: 987 })]), 0);
});

Deno.test("ArmGsiRouting.gsiOfPin() is the last entry routing to the pin, as setup_routing_entry fills chip[][]", () => {
  const r = new ArmGsiRouting();
  const chip = (gsi: number, pin: number): ArmRoute => ({
    gsi,
    type: "irqchip",
    irqchip: 0,
    pin,
    addressLo: 0,
    addressHi: 0,
    data: 0,
    flags: 0,
    devid: 0,
  });
  assert.equal(r.gsiOfPin(9), undefined);
  assert.equal(r.set([chip(20, 9), chip(3, 9), chip(4, 5)]), 0);
  assert.equal(r.gsiOfPin(9), 3);
  assert.equal(r.gsiOfPin(5), 4);
  assert.equal(r.set([chip(20, 9), chip(20, 9)]), -22); // refused: the old table stays
  assert.equal(r.gsiOfPin(9), 3);
  r.setDefault(32);
  assert.equal(r.gsiOfPin(9), 9);
});
