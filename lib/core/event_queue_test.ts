import assert from "node:assert/strict";
import { EventQueue, type Scheduled } from "./event_queue.ts";

Deno.test("EventQueue pops live entries by time, then scheduling order, over random schedules and cancels", () => {
  let seed = 20261207;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  for (let round = 0; round < 500; round++) {
    const q = new EventQueue();
    // The reference: every entry scheduled, live or not, in the order it must come out.
    const all: Scheduled[] = [];
    const popped: Scheduled[] = [];
    const span = 1 + rnd(40);
    for (let k = 0, n = 1 + rnd(300); k < n; k++) {
      const op = rnd(10);
      if (op < 5) all.push(q.schedule(rnd(span), () => {}));
      else if (op < 7 && all.length > 0) {
        // Cancelling what has fired already changes nothing; only queued entries are cancelled.
        const e = all[rnd(all.length)];
        if (!popped.includes(e)) e.cancelled = true;
      } else if (op < 9) {
        const e = q.pop();
        if (e !== undefined) popped.push(e);
      } else {
        // peek agrees with the pop that follows it.
        const e = q.peek();
        assert.equal(e, q.pop());
        if (e !== undefined) popped.push(e);
      }
    }
    for (let e = q.pop(); e !== undefined; e = q.pop()) popped.push(e);
    assert.equal(q.size, 0);
    for (const e of popped) assert.equal(e.cancelled, false);
    // Each pop took the earliest entry still queued and live at that moment: popped in order
    // wherever two were queued together, and nothing live left behind.
    const left = all.filter((e) => !e.cancelled && !popped.includes(e));
    assert.deepEqual(left, []);
    const firstPop = new Map(popped.map((e, i) => [e, i]));
    for (const e of popped) {
      for (const f of popped) {
        // An entry scheduled before `e` was popped that is earlier than `e` must have come out first.
        const earlier = f.time < e.time || (f.time === e.time && f.seq < e.seq);
        if (earlier && f.seq < e.seq) assert.ok(firstPop.get(f)! < firstPop.get(e)!);
      }
    }
  }
});
