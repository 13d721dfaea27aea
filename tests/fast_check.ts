/**
 * fast-check for irqlab's property tests: the part of its API they use, typed
 * here so that they type-check where npm cannot be reached, and its loading
 * ({@link loadFastCheck}), which leaves the tests to say they skipped there.
 *
 * @module
 */
import { optionalNpm } from "./optional_npm.ts";

/** A generator of values, as fast-check's `Arbitrary`: the part of it used here. */
export interface Arbitrary<T> {
  map<U>(f: (value: T) => U): Arbitrary<U>;
}
declare const opaque: unique symbol;
/** A property fast-check can check: opaque here, only made by `property` and given to `assert`. */
export interface Property {
  readonly [opaque]: never;
}
/** The part of fast-check's API the property tests use. */
export interface FastCheck {
  integer(range: { min: number; max: number }): Arbitrary<number>;
  boolean(): Arbitrary<boolean>;
  constant<T>(value: T): Arbitrary<T>;
  constantFrom<T>(...values: T[]): Arbitrary<T>;
  tuple<T extends unknown[]>(...parts: { [K in keyof T]: Arbitrary<T[K]> }): Arbitrary<T>;
  oneof<T>(...choices: Arbitrary<T>[]): Arbitrary<T>;
  array<T>(of: Arbitrary<T>, size: { minLength: number; maxLength: number }): Arbitrary<T[]>;
  property<A>(a: Arbitrary<A>, check: (a: A) => void): Property;
  property<A, B>(a: Arbitrary<A>, b: Arbitrary<B>, check: (a: A, b: B) => void): Property;
  assert(property: Property, params: { numRuns: number; seed: number }): void;
}

/**
 * fast-check from npm, or undefined where the registry cannot be reached;
 * `who` names the tests in the message that says so.
 */
export async function loadFastCheck(who: string): Promise<FastCheck | undefined> {
  return (await optionalNpm<{ default: FastCheck }>("npm:fast-check@4.11.0", who))?.default;
}
