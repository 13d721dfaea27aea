/**
 * What idle vCPUs cost the user path: the same MSI round trips to vcpu0 in
 * a 1-vCPU VM and in a 32-vCPU VM whose other vCPUs have nothing to do, in
 * one run.
 *
 * ```sh
 * deno bench --allow-read bench/idle_vcpus_bench.ts
 * ```
 *
 * `run` settles the machine by visiting every vCPU at each instruction
 * boundary until none has anything to do, asking each whether it has
 * something to service or take. A round trip is four such passes (the take,
 * the handler's `eoi`, its IRET, the pass that finds nothing), so each idle
 * vCPU is asked four times per round trip: the difference between the two
 * benches is that polling. Delivery driven by the models (a vCPU is visited
 * again only once something told the engine it may have work) would make
 * the two cost the same; the line printed before the table gives the cost
 * per idle vCPU in CPU time.
 *
 * @module
 */
import { type Io, main } from "../lib/cli/main.ts";
import process from "node:process";

const ROUND_TRIPS = 100_000;
const IDLE = 31;
const scenario = (n: number) =>
  new URL(`./scenarios/msi_round_trips_100k_${n}_vcpus.scn`, import.meta.url).pathname;
const ONE = scenario(1), MANY = scenario(IDLE + 1);

function scnRun(file: string): void {
  const out: string[] = [];
  const io: Io = {
    out: (line) => out.push(line),
    err: (line) => out.push(line),
    color: false,
    writeFile: () => {},
  };
  if (main(["run", file], io) !== 0 || !out[0].startsWith("PASS")) {
    throw new Error(`${file} did not pass:\n${out.join("\n")}`);
  }
}

{
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  scnRun(ONE);
  scnRun(MANY);
  const t = [ONE, MANY].map((file) => {
    const a = cpuMs();
    scnRun(file);
    return cpuMs() - a;
  });
  const ns = (ms: number) => (ms * 1e6 / ROUND_TRIPS).toFixed(0);
  console.log(
    `CPU ns per round trip: 1 vCPU ${ns(t[0])}, ${IDLE + 1} vCPUs ${ns(t[1])}; ` +
      `each idle vCPU adds ${ns((t[1] - t[0]) / IDLE)} ns`,
  );
}

Deno.bench({
  name: "user path, 1 vCPU: 100k MSI round trips",
  group: "idle vcpus",
  baseline: true,
  fn: () => scnRun(ONE),
});

Deno.bench({
  name: `user path, ${IDLE + 1} vCPUs, ${IDLE} idle: 100k MSI round trips`,
  group: "idle vcpus",
  fn: () => scnRun(MANY),
});
