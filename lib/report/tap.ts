/**
 * TAP 14 (https://testanything.org/tap-version-14-specification.html) for
 * `scn run --tap` and `scn explore --tap`: one test point per scenario, a
 * YAML diagnostic block under each failure, as CI systems and `tap-parser`
 * read it.
 *
 * irqlab's outcomes map onto TAP's directives so that a TAP consumer counts
 * the same passes and failures as `scn`: an expected failure that failed
 * (XFAIL) is `not ok … # TODO`, which TAP does not count as a failure; an
 * unexpected pass (XPASS) is `not ok`, because irqlab fails the run for it;
 * a scenario the backend cannot express is `ok … # SKIP`.
 *
 * Every diagnostic value is written as a JSON string, which is also a YAML
 * double-quoted scalar, so no scenario text can break the document.
 *
 * @module
 */
import { formatDiagnostic } from "../core/diagnostic.ts";
import type { Outcome } from "./outcome.ts";
import type { ExploreOutcome } from "./explore.ts";
import type { Failure } from "../engine/run.ts";

// A description or directive ends at the line's end, and `#` starts a directive.
function description(s: string): string {
  return s.replace(/[\r\n]+/g, " ").replace(/\\/g, "\\\\").replace(/#/g, "\\#");
}

const q = (s: string) => JSON.stringify(s);

function yaml(fields: [string, string | string[] | Record<string, string>[]][]): string[] {
  const out = ["  ---"];
  for (const [k, v] of fields) {
    if (typeof v === "string") out.push(`  ${k}: ${q(v)}`);
    else if (v.length === 0) out.push(`  ${k}: []`);
    else {
      out.push(`  ${k}:`);
      for (const item of v) {
        if (typeof item === "string") out.push(`    - ${q(item)}`);
        else {
          Object.entries(item).forEach(([ik, iv], i) =>
            out.push(`    ${i === 0 ? "- " : "  "}${ik}: ${q(iv)}`)
          );
        }
      }
    }
  }
  out.push("  ...");
  return out;
}

function failureFields(failures: readonly Failure[]): Record<string, string>[] {
  return failures.map((f) => ({
    at: `${f.loc.source}:${f.loc.start.line}:${f.loc.start.column}`,
    kind: f.kind,
    text: f.text,
    expected: f.expected,
    actual: f.actual,
  }));
}

function errorPoint(n: number, o: Exclude<Outcome, { kind: "result" | "checked" }>): string[] {
  const head = `not ok ${n} - ${description(o.file)}`;
  if (o.kind === "internal-error") {
    return [
      head,
      ...yaml([["severity", "internal-error"], [
        "message",
        `internal error: ${o.message}; this is a bug in irqlab: please report it with the scenario`,
      ]]),
    ];
  }
  return [
    head,
    ...yaml([
      ["severity", "input-error"],
      ["message", o.diagnostics[0]?.message ?? "bad input"],
      ["diagnostics", o.diagnostics.map((d) => formatDiagnostic(d, (s) => o.sources.get(s)))],
    ]),
  ];
}

/**
 * `scn run --tap`.
 *
 * @example
 * ```ts
 * tapReport([]); // "TAP version 14\n1..0\n"
 * ```
 */
export function tapReport(outcomes: readonly Outcome[]): string {
  const out = ["TAP version 14", `1..${outcomes.length}`];
  outcomes.forEach((o, i) => {
    const n = i + 1;
    if (o.kind === "checked") {
      // TAP's SKIP: a checked scenario was not run, so it neither passed nor failed.
      out.push(`ok ${n} - ${description(`${o.file}  ${o.title}`)} # SKIP checked, not run`);
      return;
    }
    if (o.kind !== "result") {
      out.push(...errorPoint(n, o));
      return;
    }
    const r = o.result;
    const name = description(`${r.file}  ${r.title}`);
    switch (r.status) {
      case "pass":
        out.push(`ok ${n} - ${name}`);
        break;
      case "skip":
        out.push(`ok ${n} - ${name} # SKIP ${description(r.skipReason ?? "")}`);
        break;
      case "xfail":
        out.push(`not ok ${n} - ${name} # TODO expected failure: ${description(r.expectFailure!)}`);
        out.push(...yaml([["severity", "todo"], ["failures", failureFields(r.failures)]]));
        break;
      case "xpass":
        out.push(`not ok ${n} - ${name}`);
        out.push(...yaml([
          ["severity", "fail"],
          [
            "message",
            `marked 'expect failure "${r.expectFailure}"' but every expectation held; ` +
            "if the bug is fixed, drop the 'expect failure' line",
          ],
        ]));
        break;
      case "fail":
        out.push(`not ok ${n} - ${name}`);
        out.push(...yaml([
          ["severity", "fail"],
          ["message", r.failures[0] ? `${r.failures[0].kind} ${r.failures[0].text}` : "failed"],
          ["failures", failureFields(r.failures)],
        ]));
        break;
    }
  });
  return out.join("\n") + "\n";
}

/**
 * `scn explore --tap`: a failing order's replay token and broken
 * expectations in the diagnostic block.
 *
 * @example
 * ```ts
 * tapExploreReport([]); // "TAP version 14\n1..0\n"
 * ```
 */
export function tapExploreReport(outcomes: readonly ExploreOutcome[]): string {
  const out = ["TAP version 14", `1..${outcomes.length}`];
  outcomes.forEach((o, i) => {
    const n = i + 1;
    if (o.kind !== "explored") {
      out.push(...errorPoint(n, o));
      return;
    }
    const r = o.result;
    const name = description(`${o.file}  ${r.title}`);
    const cx = r.counterexample;
    const found: [string, string | Record<string, string>[]][] = cx
      ? [["schedule", cx.token], ["failures", failureFields(cx.result.failures)]]
      : [];
    switch (r.status) {
      case "pass":
        out.push(`ok ${n} - ${name}`);
        break;
      case "xfail":
        out.push(`not ok ${n} - ${name} # TODO expected failure: ${description(r.expectFailure!)}`);
        out.push(...yaml([["severity", "todo"], ...found]));
        break;
      case "xpass":
        out.push(`not ok ${n} - ${name}`);
        out.push(...yaml([
          ["severity", "fail"],
          ["message", `marked 'expect failure "${r.expectFailure}"' but no order failed`],
        ]));
        break;
      case "fail":
        out.push(`not ok ${n} - ${name}`);
        out.push(...yaml([["severity", "fail"], ["message", "an order fails"], ...found]));
        break;
    }
  });
  return out.join("\n") + "\n";
}
