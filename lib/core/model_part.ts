/**
 * A part of a model loaded only for the scenarios that use it (Xen's domain,
 * KVM's Hyper-V emulation): the module that builds VMs holds a
 * {@link ModelPart}, and the part's own module fills it when it is imported.
 * The builder never imports the part, so Deno compiles the part only when a
 * command imported it first (lib/api/platform_loaders.ts decides which).
 *
 * @module
 */

/**
 * The slot a lazily loaded model part registers itself in.
 *
 * @example
 * ```ts
 * const slot = new ModelPart<{ n: number }>("the part (./part.ts)");
 * slot.provide({ n: 1 });
 * slot.get().n; // 1
 * ```
 */
export class ModelPart<T> {
  #part: T | undefined = undefined;

  /**
   * @param what What the part is and which module provides it, for the
   * internal error a build before its import gets.
   */
  constructor(readonly what: string) {}

  /** Makes `part` the one VMs are built with (called by the part's own module). */
  provide(part: T): void {
    this.#part = part;
  }

  /** The part; an internal error naming {@link ModelPart.what} if it was never provided. */
  get(): T {
    if (this.#part === undefined) {
      throw new Error(
        `internal error: a VM needing ${this.what} was built before it was loaded`,
      );
    }
    return this.#part;
  }
}
