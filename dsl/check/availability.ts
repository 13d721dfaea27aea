/**
 * Pass: commands and state paths that only some VMs of a platform have.
 *
 * A platform publishes one table for all its VMs (so `scn help` shows every
 * command and a misspelling gets a suggestion from the whole set), and
 * marks entries that need a particular kind of VM with `requires`: the Xen
 * commands of the x86 platform need `hypervisor xen` or `kvm-xen`. This
 * pass walks the lowered program and reports such a use where it is
 * written, as a check error, instead of letting the model fail at run time.
 * It also asks the platform to vet combinations of settings.
 *
 * @module
 */
import type { Call, Cond, Expr, HandlerDecl, Op, VmDecl } from "../program.ts";
import type { Timeline } from "../timeline.ts";
import { type CheckContext, fail, recover } from "./context.ts";

/**
 * Checks every call and state read in `body` and `handlers` against the
 * requirements of the VM it targets.
 *
 * @throws {ScnError} at the first use a VM does not offer.
 *
 * @example
 * ```ts
 * import { type Lowered } from "./lower.ts";
 * import { type VmDecl } from "../program.ts";
 * declare const lowered: Lowered, vms: VmDecl[];
 * checkAvailability(lowered.body, lowered.handlers, vms);
 * ```
 */
export function checkAvailability(
  body: readonly Op[],
  handlers: readonly HandlerDecl[],
  vms: readonly VmDecl[],
  ctx: Pick<CheckContext, "problems"> = {},
): void {
  for (const vm of vms) {
    recover(ctx, () => {
      const why = vm.platform.checkSettings?.(vm.settings);
      if (why) fail(vm.loc, `vm '${vm.name}': ${why}`);
    });
  }
  const walker = new Walker(vms);
  // One problem per top-level statement or handler: what is inside a block that
  // already failed is likely the same mistake again.
  for (const op of body) {
    if (op.op === "timeline") walker.timeline(op.timeline, ctx);
    else recover(ctx, () => walker.op(op));
  }
  for (const h of handlers) recover(ctx, () => walker.ops(h.body));
}

/**
 * Checks top-level ops one at a time as {@link checkAvailability} checks a
 * body, for a checker that keeps no timeline: it calls this for each op as
 * it is lowered, then {@link checkAvailability} with an empty body.
 *
 * @example
 * ```ts
 * import { type Op, type VmDecl } from "../program.ts";
 * declare const op: Op, vms: VmDecl[];
 * const check = topLevelAvailability(vms, { problems: [] });
 * check(op);
 * ```
 */
export function topLevelAvailability(
  vms: readonly VmDecl[],
  ctx: Pick<CheckContext, "problems">,
): (op: Op) => void {
  const walker = new Walker(vms);
  return (op) => recover(ctx, () => walker.op(op));
}

class Walker {
  constructor(readonly vms: readonly VmDecl[]) {}

  #refuse(why: string, vm: VmDecl, loc: Call["loc"]): never {
    fail(loc, why, undefined, [{ loc: vm.loc, message: `vm '${vm.name}' is declared here` }]);
  }

  // The walks below go by index: a for-of allocates an iterator result per
  // element in code not yet optimized, once for every statement of a scenario.
  ops(ops: readonly Op[]): void {
    for (let i = 0; i < ops.length; i++) this.op(ops[i]);
  }

  /**
   * A timeline's statements, each a top-level statement. What is available
   * does not depend on where a statement is written: a statement written
   * like one that passed passes, and only the others are built to be told
   * where they fail.
   */
  timeline(t: Timeline<Op>, ctx: Pick<CheckContext, "problems">): void {
    const passed = new Set<Op>();
    for (let i = 0; i < t.length; i++) {
      const like = t.templateOf(i);
      if (passed.has(like)) continue;
      if (recover(ctx, () => (this.op(t.op(i)), true))) passed.add(like);
    }
  }

  op(op: Op): void {
    switch (op.op) {
      case "do":
        return this.call(op.call);
      case "if":
        this.cond(op.cond);
        this.ops(op.then);
        return this.ops(op.else);
      case "run":
        if (op.duration) this.expr(op.duration);
        return;
      case "expect":
      case "always":
        return this.cond(op.cond);
      case "let":
        return this.expr(op.value);
      case "repeat":
        this.expr(op.count);
        return this.ops(op.body);
      case "for":
        this.expr(op.items);
        return this.ops(op.body);
      case "parallel":
      case "window":
        return this.ops(op.body);
      case "timeline":
        return this.ops([...op.timeline.ops()]);
      case "select":
        this.expr(op.index);
        return this.ops(op.variants);
    }
  }

  call(c: Call): void {
    const vm = this.vms[c.vm];
    const why = c.spec.requires?.(vm.settings);
    if (why) this.#refuse(`'${c.spec.name}' ${why}`, vm, c.loc);
    for (let i = 0; i < c.args.length; i++) this.expr(c.args[i].expr);
    for (const e of c.entries ?? []) for (const a of e) this.expr(a.expr);
    if (c.register) {
      if (c.register.index) this.expr(c.register.index);
      if (c.register.fileIndexExpr) this.expr(c.register.fileIndexExpr);
      if (c.register.raw) this.expr(c.register.raw);
      for (const f of c.register.fields) this.expr(f.expr);
    }
  }

  expr(e: Expr): void {
    switch (e.e) {
      case "state": {
        const vm = this.vms[e.vm];
        const why = e.spec.requires?.(vm.settings);
        if (why) this.#refuse(`'${e.text}' ${why}`, vm, e.loc);
        for (const i of e.indexes) this.expr(i);
        return;
      }
      case "query":
        return this.call(e.call);
      case "cond":
        return this.cond(e.cond);
      case "neg":
        return this.expr(e.operand);
      case "op":
        for (const a of e.args) this.expr(a);
        return;
      case "set":
      case "list":
        for (const i of e.items) this.expr(i);
        return;
      case "range":
        this.expr(e.from);
        return this.expr(e.to);
      case "lit":
      case "var":
        return;
    }
  }

  cond(c: Cond): void {
    switch (c.c) {
      case "cmp":
        this.expr(c.left);
        return this.expr(c.right);
      case "truthy":
        return this.expr(c.expr);
      case "and":
      case "or":
        this.cond(c.left);
        return this.cond(c.right);
      case "not":
        return this.cond(c.operand);
      case "took":
        for (const v of c.values) this.expr(v);
        if (c.count) this.expr(c.count);
        return;
      case "select":
        this.expr(c.index);
        for (const v of c.variants) this.cond(v);
        return;
    }
  }
}
