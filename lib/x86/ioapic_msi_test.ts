import assert from "node:assert/strict";
import { type ApicMessage, type ApicSink, Shorthand } from "./apic_message.ts";
import { Trace } from "../core/trace.ts";
import { encodeRte, Ioapic } from "./ioapic.ts";
import { MsiDecoder, type MsiSink } from "./msi.ts";
import type { MessageSource } from "./apic_message.ts";
import { writeRte } from "./test_vm.ts";

class Recorder implements ApicSink {
  readonly msgs: ApicMessage[] = [];
  deliver(msg: ApicMessage): number {
    this.msgs.push({ ...msg });
    return 1;
  }
}

const MODES = ["fixed", "lowest", "smi", "nmi", "init"] as const;
const MODE_CODE = { fixed: 0, lowest: 1, smi: 2, nmi: 4, init: 5 } as const;

Deno.test("an entry sent as an MSI reaches the bus as the request KVM's ioapic_service builds", () => {
  for (const x2apicFormat of [false, true]) {
    for (const mode of MODES) {
      for (const destMode of ["physical", "logical"] as const) {
        for (const trigger of ["edge", "level"] as const) {
          for (const dest of [0, 1, 0x0f, 0x80, 0xff]) {
            const bus = new Recorder();
            const io = new Ioapic({
              sink: bus,
              msi: new MsiDecoder(bus, { x2apicFormat }),
              trace: new Trace(() => 0),
              name: "ioapic",
            });
            const vector = 0x30 + dest % 0x80;
            writeRte(
              io,
              5,
              encodeRte({ vector, delivery_mode: mode, dest_mode: destMode, trigger, dest }),
            );
            io.setLine(5, 1);
            // KVM ioapic_service: kvm_lapic_irq from the entry, level 1, no shorthand, no hint.
            const direct: ApicMessage = {
              vector,
              deliveryMode: MODE_CODE[mode],
              logical: destMode === "logical",
              dest,
              shorthand: Shorthand.None,
              level: trigger === "level",
              assert: true,
              sourceId: -1,
              source: "ioapic",
              redirectionHint: false,
            };
            assert.deepEqual(bus.msgs, [direct], `${mode} ${destMode} ${trigger} dest ${dest}`);
          }
        }
      }
    }
  }
});

Deno.test("what sits between the IOAPIC and the bus sees an MSI write and can remap it", () => {
  const bus = new Recorder();
  const writes: string[] = [];
  const decoder = new MsiDecoder(bus);
  // An interrupt-remapping stand-in: logs the write, then moves vector 0x76 to 0x77.
  const remap: MsiSink = {
    writeMsi(lo: number, hi: number, data: number, source: MessageSource) {
      writes.push(`${source} 0x${lo.toString(16)}:0x${hi.toString(16)} 0x${data.toString(16)}`);
      return decoder.writeMsi(lo, hi, (data & ~0xff) | 0x77, source);
    },
  };
  const io = new Ioapic({ sink: bus, msi: remap, trace: new Trace(() => 0), name: "ioapic" });
  writeRte(io, 14, encodeRte({ vector: 0x76, trigger: "level", dest: 2, dest_mode: "logical" }));
  assert.equal(io.setLine(14, 1), 1);
  assert.deepEqual(writes, ["ioapic 0xfee02004:0x0 0xc076"]);
  assert.equal(bus.msgs[0].vector, 0x77);
  assert.equal(bus.msgs[0].source, "ioapic");
});
