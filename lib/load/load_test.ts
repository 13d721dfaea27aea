import assert from "node:assert/strict";
import { loadOne, loadTarget, readTarget } from "./load.ts";
import { confinedLoader, FileReads } from "./files.ts";
import { decodeUtf8, READ_LIMITS, readScenarioFile } from "./read.ts";
import { scn, scnAsync } from "../cli/captured.ts";

// Every file here is written below the system's temporary folder (TMPDIR).

const VM = "vm guest { arch x86_64  vcpus 1 }\n";
const SECRET = "root:x:0:0:SECRET-LINE:/root:/bin/bash";

/** A folder with `inside/` (where scenarios live) and a secret file beside it. */
function sandbox(): { root: string; inside: string; secret: string } {
  const root = Deno.makeTempDirSync({ prefix: "irqlab-load-" });
  const inside = `${root}/inside`;
  Deno.mkdirSync(inside);
  // A fragment that does not parse, so that an include of it would quote its line.
  const secret = `${root}/secret.scn`;
  Deno.writeTextFileSync(secret, `${SECRET}\n`);
  return { root, inside, secret };
}

/** `ln -s`: Deno's own symlinkSync needs write permission everywhere, the tests have the temp folder. */
function symlink(target: string, path: string): void {
  assert.ok(new Deno.Command("ln", { args: ["-s", target, path] }).outputSync().success);
}

function scenarioIncluding(dir: string, path: string): string {
  const file = `${dir}/main.scn`;
  Deno.writeTextFileSync(file, `scenario "inc"\n${VM}include "${path}"\n`);
  return file;
}

Deno.test("an include outside the including file's folder is refused, located, and prints nothing of it", async () => {
  const { root, inside, secret } = sandbox();
  try {
    symlink(secret, `${inside}/_link.scn`);
    const cases: [string, RegExp][] = [
      [secret, /is an absolute path/],
      ["/etc/passwd", /is an absolute path/],
      ["../secret.scn", /leads out of the including file's folder/],
      ["sub/../../secret.scn", /leads out of the including file's folder/],
      ["_link.scn", /a symbolic link leads out/],
    ];
    for (const [path, why] of cases) {
      const file = scenarioIncluding(inside, path);
      for (const command of ["run", "check", "explore", "report", "minimize"]) {
        const c = command === "explore" ? await scnAsync([command, file]) : scn([command, file]);
        const text = c.out.join("\n");
        assert.equal(c.code, 2, `${command} ${path}: ${text}`);
        assert.match(text, why, `${command} ${path}`);
        assert.match(text, /main\.scn:3:9: error: include '.*' is refused/, `${command} ${path}`);
        assert.doesNotMatch(text, /SECRET-LINE|root:x/, `${command} ${path} printed the target`);
      }
    }
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("a refused include in a Markdown bug report is located in the report and prints nothing of it", () => {
  const { root, inside } = sandbox();
  try {
    const md = `${inside}/bug.md`;
    Deno.writeTextFileSync(
      md,
      `# bug\n\n\`\`\`scn\nscenario "x"\n${VM}include "../secret.scn"\n\`\`\`\n`,
    );
    const c = scn(["run", md]);
    assert.equal(c.code, 2);
    assert.match(c.out.join("\n"), /bug\.md:6:9: error: include '\.\.\/secret\.scn' is refused/);
    assert.doesNotMatch(c.out.join("\n"), /SECRET-LINE/);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("an include inside the folder (or below it) is read, and a syntax error in it is quoted", () => {
  const { root, inside } = sandbox();
  try {
    Deno.mkdirSync(`${inside}/sub`);
    Deno.writeTextFileSync(`${inside}/sub/_frag.scn`, "vcpu0: sti\nvcpu0: stii bad\n");
    const file = scenarioIncluding(inside, "sub/_frag.scn");
    const c = scn(["check", file]);
    assert.equal(c.code, 2);
    assert.match(c.out.join("\n"), /sub\/_frag\.scn:2:/);
    assert.match(c.out.join("\n"), /vcpu0: stii bad/);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("includes of a FIFO, a device or a directory are refused at once, not read", () => {
  const { root, inside } = sandbox();
  try {
    const fifo = new Deno.Command("mkfifo", { args: [`${inside}/_fifo.scn`] }).outputSync();
    assert.ok(fifo.success);
    Deno.mkdirSync(`${inside}/_dir.scn`);
    symlink("/dev/zero", `${inside}/_zero.scn`);
    for (const name of ["_fifo.scn", "_dir.scn"]) {
      const c = scn(["run", scenarioIncluding(inside, name)]);
      assert.equal(c.code, 2, name);
      assert.match(c.out.join("\n"), /not a regular file|is a directory/, name);
    }
    // /dev/zero behind a link is outside the folder before it is anything else.
    const z = scn(["run", scenarioIncluding(inside, "_zero.scn")]);
    assert.equal(z.code, 2);
    assert.match(z.out.join("\n"), /symbolic link leads out/);
    // Named directly on the command line, a device is refused by its kind.
    const d = readScenarioFile("/dev/zero");
    assert.ok("problem" in d);
    assert.match(d.problem.message, /not a regular file/);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("a file over the size budget and an include tree that fans out are located budget errors", () => {
  const { root, inside } = sandbox();
  try {
    Deno.writeTextFileSync(`${inside}/_big.scn`, "# x\n".repeat(1000));
    const file = scenarioIncluding(inside, "_big.scn");
    const limits = { fileBytes: 1000, totalBytes: 100_000, includes: 50 };
    const [l] = loadTarget(file, { limits });
    assert.equal(l.kind, "error");
    if (l.kind !== "error" || l.outcome.kind !== "input-error") return;
    assert.equal(l.outcome.diagnostics[0].kind, "budget");
    assert.equal(l.outcome.diagnostics[0].loc.start.line, 3);
    assert.match(l.outcome.diagnostics[0].message, /larger than 1000 bytes/);
    // Ten includes of a fragment that includes another ten times: 110 > 50.
    Deno.writeTextFileSync(`${inside}/_leaf.scn`, "# leaf\n");
    Deno.writeTextFileSync(`${inside}/_ten.scn`, 'include "_leaf.scn"\n'.repeat(10));
    Deno.writeTextFileSync(file, `scenario "fan"\n${VM}${'include "_ten.scn"\n'.repeat(10)}`);
    const [f] = loadTarget(file, { limits });
    assert.ok(f.kind === "error" && f.outcome.kind === "input-error");
    assert.match(f.outcome.diagnostics[0].message, /more than 50 includes/);
    // The top file itself.
    const big = `${inside}/big.scn`;
    Deno.writeTextFileSync(big, `scenario "big"\n${"# pad\n".repeat(1_000_000)}`);
    const c = scn(["run", big]);
    assert.equal(c.code, 2);
    assert.match(c.out.join("\n"), /big\.scn:1:1: error: .* is larger than \d+ bytes/);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("invalid UTF-8 is a located error at the bad byte, not a silent U+FFFD", () => {
  const { root, inside } = sandbox();
  try {
    const file = `${inside}/bad.scn`;
    const text = new TextEncoder().encode(`scenario "t"\n${VM}vcpu0: sti # caf`);
    Deno.writeFileSync(file, new Uint8Array([...text, 0xe9, 0x0a]));
    const c = scn(["check", file]);
    assert.equal(c.code, 2);
    assert.match(c.out.join("\n"), /bad\.scn:3:17: error: .* not valid UTF-8: byte 0xe9/);
    // Overlong encodings and lone continuation bytes are invalid too.
    for (const bytes of [[0xc0, 0x80], [0x80], [0xed, 0xa0, 0x80], [0x61, 0xf0, 0x9f]]) {
      assert.ok("problem" in decodeUtf8(new Uint8Array(bytes), "x"), String(bytes));
    }
    assert.deepEqual(decodeUtf8(new TextEncoder().encode("é😀"), "x"), { text: "é😀" });
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("a missing read permission is named as such, with the flag that grants it", () => {
  const { root, inside } = sandbox();
  try {
    const file = scenarioIncluding(inside, "_vm.scn");
    Deno.writeTextFileSync(`${inside}/_vm.scn`, "# nothing\n");
    const run = (allow: string, target: string) => {
      const out = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--no-config",
          "--no-lock",
          `--allow-read=${allow}`,
          "lib/cli/main.ts",
          "run",
          target,
        ],
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).outputSync();
      return {
        code: out.code,
        text: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr),
      };
    };
    const here = Deno.cwd();
    const a = run(here, file);
    assert.equal(a.code, 2, a.text);
    assert.match(a.text, /reading '.*main\.scn' needs read permission/);
    assert.match(a.text, new RegExp(`run with --allow-read=${inside}`));
    assert.doesNotMatch(a.text, /no such file/);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("the confined loader records every file it read and nothing it refused", () => {
  const { load, read } = confinedLoader();
  const vm = load("_vm.scn", "tests/fixtures/include/main.scn");
  assert.ok(vm && "name" in vm);
  const etc = load("/etc/passwd", "tests/fixtures/include/main.scn");
  assert.ok(etc && "refused" in etc);
  assert.deepEqual([...read.keys()], ["tests/fixtures/include/_vm.scn"]);
});

Deno.test("readTarget() takes ```SCN fences without regard to case", () => {
  const { root, inside } = sandbox();
  try {
    const md = `${inside}/upper.md`;
    Deno.writeTextFileSync(
      md,
      `text\n\n\`\`\`SCN\nscenario "x"\n${VM}\`\`\`\n\n~~~Scn\nscenario "y"\n${VM}~~~\n`,
    );
    const r = readTarget(md);
    assert.ok("sources" in r);
    if (!("sources" in r)) return;
    assert.deepEqual(r.sources.map((s) => s.name), [`${md}:4`, `${md}:9`]);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("a quoted scenario ends with its last statement: the reply's prose after it is not part of it", () => {
  const { root, inside } = sandbox();
  try {
    const eml = `${inside}/reply.eml`;
    Deno.writeTextFileSync(
      eml,
      [
        "From: a@example.org",
        "Subject: Re: bug",
        "",
        "> Here:",
        ">",
        '> scenario "q"',
        "> vm guest { arch x86_64",
        ">   vcpus 1 }",
        "> vcpu0: sti   # a comment",
        ">",
        "> Any idea?",
        "> Thanks",
        "",
      ].join("\n"),
    );
    const r = readTarget(eml);
    assert.ok("sources" in r);
    if (!("sources" in r)) return;
    assert.equal(
      r.sources[0].body,
      'scenario "q"\nvm guest { arch x86_64\n  vcpus 1 }\nvcpu0: sti   # a comment\n',
    );
    const c = scn(["check", eml]);
    assert.equal(c.code, 0, c.out.join("\n"));
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("explore and run give the same host-file line:col for a quoted-printable scenario quoted two deep", async () => {
  const { root, inside } = sandbox();
  try {
    const eml = `${inside}/qp_reply.eml`;
    Deno.writeTextFileSync(
      eml,
      [
        "From: b@example.org",
        "Subject: Re: Re: race",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: quoted-printable",
        "",
        "A wrote:",
        "> B wrote:",
        '> > scenario "a long title the mailer wraps because it is far too lo=',
        '> > ng"',
        "> > vm guest { arch x86_64  vcpus 1 }",
        "> > vcpu0: lapic enable",
        "> >     vcpu0: write lapic.tpr 0x20",
        "> >     expect vcpu0.lapic.tpr =3D=3D 0x30",
        "",
      ].join("\n"),
    );
    const run = scn(["run", eml]);
    const explore = await scnAsync(["explore", eml]);
    const loc = (lines: string[]) =>
      lines.map((l) => /qp_reply\.eml:(\d+:\d+)/.exec(l)?.[1]).filter((x) => x && x !== "9:1");
    assert.equal(run.code, 1, run.out.join("\n"));
    assert.equal(explore.code, 1, explore.out.join("\n"));
    assert.deepEqual(loc(run.out).slice(0, 1), ["14:9"]);
    assert.deepEqual(loc(explore.out).slice(0, 1), ["14:9"]);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("loadOne() of a host file takes its first scenario, named by its host line", () => {
  const l = loadOne("tests/fixtures/hosts/two_fenced.md");
  assert.equal(l.kind, "program");
  if (l.kind === "program") assert.equal(l.source.name, "tests/fixtures/hosts/two_fenced.md:6");
});

Deno.test("a title's escape sequences never reach the output of run, explore, JUnit, JSON or report", async () => {
  const { root, inside } = sandbox();
  try {
    const file = `${inside}/evil.scn`;
    Deno.writeTextFileSync(
      file,
      `scenario "\x1b[2K\x1b[1GPASS  looks fine\x07\u202e"\n${VM}run\nexpect vcpu0 took 0x41\n`,
    );
    // deno-lint-ignore no-control-regex
    const raw = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/;
    for (const args of [["run"], ["run", "--junit", "-"], ["run", "--json"], ["explore"]]) {
      const c = args[0] === "explore" ? await scnAsync([...args, file]) : scn([...args, file]);
      const text = c.out.join("\n");
      assert.doesNotMatch(text, raw, args.join(" "));
      assert.match(text, /\\(x1b|u001b)\[2K/, args.join(" "));
    }
    const r = scn(["report", file]);
    assert.equal(r.code, 2);
    assert.match(
      r.out.join("\n"),
      /evil\.scn:1:11: error: control character \\x1b in the scenario/,
    );
    assert.doesNotMatch(r.out.join("\n"), raw);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("a 20 KB source line and a long value are cut with an ellipsis", () => {
  const { root, inside } = sandbox();
  try {
    const file = `${inside}/long.scn`;
    const set = Array.from({ length: 5000 }, (_, i) => `0x${(i % 200 + 0x20).toString(16)}`);
    Deno.writeTextFileSync(
      file,
      `scenario "long"\n${VM}vcpu0: sti ${"x".repeat(20_000)}\n`,
    );
    const c = scn(["check", file]);
    assert.equal(c.code, 2);
    assert.ok(c.out.every((l) => l.length < 400), String(c.out.map((l) => l.length)));
    assert.match(c.out.join("\n"), /…/);
    Deno.writeTextFileSync(
      file,
      `scenario "long"\n${VM}run\nexpect vcpu0.lapic.irr == {${set.join(", ")}}\n`,
    );
    const v = scn(["run", file]);
    assert.equal(v.code, 1);
    // The expected set is 29 KB written out.
    assert.ok(v.out.every((l) => l.length < 1100), String(v.out.map((l) => l.length)));
    assert.match(v.out.join("\n"), /expected: .*…$/m);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("10,000 nested blocks are a located budget error at the block past the budget, exit 2", () => {
  const { root, inside } = sandbox();
  try {
    const file = `${inside}/deep.scn`;
    const n = 10_000;
    Deno.writeTextFileSync(
      file,
      `scenario "deep"\n${VM}${"repeat 1 {\n".repeat(n)}run\n${"}\n".repeat(n)}`,
    );
    for (const command of ["run", "check", "report", "fmt"]) {
      const c = scn([command, file]);
      assert.equal(c.code, 2, command);
      // Line 3 opens the first block; the 201st opens on line 203, its brace at column 10.
      assert.match(
        c.out.join("\n"),
        /deep\.scn:203:10: error: nested more than 200 levels deep/,
        command,
      );
    }
    // Brackets inside strings and comments do not count.
    Deno.writeTextFileSync(file, `scenario "${"(".repeat(500)}"\n# ${"{".repeat(500)}\n${VM}`);
    assert.equal(scn(["check", file]).code, 0);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("a traced run that would outgrow memory ends in a located budget error, exit 2", () => {
  const { root, inside } = sandbox();
  try {
    const file = `${inside}/big.scn`;
    Deno.writeTextFileSync(
      file,
      `scenario "big"\n${VM}vcpu0: lapic enable\nrepeat 100000000 {\n  vcpu0: write lapic.tpr 0x10\n}\n`,
    );
    const c = scn(["run", "--trace", "--max-steps", "1000000000", file]);
    assert.equal(c.code, 2);
    assert.match(
      c.out.join("\n"),
      /big\.scn:4:1: error: trace budget exhausted: more than \d+ events/,
    );
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("loaders sharing a run's reads read a fragment once and still refuse and count every include", () => {
  const { root, inside, secret } = sandbox();
  try {
    Deno.mkdirSync(`${inside}/sub`);
    Deno.writeTextFileSync(`${inside}/_frag.scn`, "# one\n");
    symlink(secret, `${inside}/sub/_link.scn`);
    const reads = new FileReads();
    const from = `${inside}/main.scn`;
    const first = confinedLoader(undefined, reads);
    assert.deepEqual(first.load("_frag.scn", from), {
      name: `${inside}/_frag.scn`,
      text: "# one\n",
    });
    // The run has it now: a later scenario gets the text the run read, not the disk's.
    Deno.writeTextFileSync(`${inside}/_frag.scn`, "# two\n");
    const limits = { ...READ_LIMITS, totalBytes: 10, includes: 1 };
    const second = confinedLoader(limits, reads);
    assert.deepEqual(second.load("_frag.scn", from), {
      name: `${inside}/_frag.scn`,
      text: "# one\n",
    });
    assert.deepEqual([...second.read.keys()], [`${inside}/_frag.scn`]);
    // Each scenario's budgets count what it included, read or remembered.
    const again = second.load("_frag.scn", from);
    assert.ok(again && "refused" in again && again.budget);
    // The folder of the including file decides, whoever read the fragment before.
    const out = confinedLoader(undefined, reads).load("../_frag.scn", `${inside}/sub/main.scn`);
    assert.ok(out && "refused" in out);
    assert.match(out.refused, /leads out/);
    const link = confinedLoader(undefined, reads).load("_link.scn", `${inside}/sub/main.scn`);
    assert.ok(link && "refused" in link);
    assert.match(link.refused, /symbolic link leads out/);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});
