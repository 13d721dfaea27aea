import assert from "node:assert/strict";
import { archesNamed, readArches } from "./arches.ts";

const DIR = await Deno.makeTempDir();
function file(name: string, text: string): string {
  Deno.writeTextFileSync(`${DIR}/${name}`, text);
  return `${DIR}/${name}`;
}

Deno.test("archesNamed() gives each vm's arch, as `arch NAME` or `arch=NAME`", () => {
  const f = file("two.scn", 'scenario "t"\nvm a { vcpus 2 arch arm64 }\nvm b { arch=x86_64 }\n');
  assert.deepEqual(archesNamed(f), ["arm64", "x86_64"]);
  assert.deepEqual(archesNamed("scenarios/x86/readme_level_redelivery.scn"), ["x86_64"]);
});

Deno.test("archesNamed() gives undefined for what only the checker can tell", () => {
  const cases: [string, string][] = [
    ["noarch.scn", 'scenario "t"\nvm a { vcpus 2 }\n'],
    ["novalue.scn", 'scenario "t"\nvm a { arch }\n'],
    ["novm.scn", 'scenario "t"\nrun\n'],
    ["syntax.scn", 'scenario "t"\nvm a { arch x86_64\n'],
  ];
  for (const [name, text] of cases) assert.deepEqual(archesNamed(file(name, text)), [undefined]);
  const inc = file("inc.scn", 'scenario "t"\nvm a { arch x86_64 }\ninclude "_more.scn"\n');
  assert.deepEqual(archesNamed(inc), ["x86_64", undefined]);
  assert.deepEqual(archesNamed(`${DIR}/missing.scn`), [undefined]);
});

Deno.test("readArches() gives each vm's words of the settings asked, plain, as a block or `NAME=VALUE`", () => {
  const f = file(
    "hv.scn",
    'scenario "t"\nvm a { arch x86_64 hypervisor xen { guest 32 } }\nvm b { arch x86_64 }\n' +
      "vm c { arch x86_64 hypervisor=kvm-xen }\nvm d { arch x86_64 hypervisor }\n",
  );
  const words = readArches(f, undefined, ["hypervisor", "hyperv_synic"]).words;
  assert.deepEqual(words.get("hypervisor"), ["xen", "kvm-xen", undefined]);
  assert.deepEqual(words.get("hyperv_synic"), []);
  const plain = readArches("scenarios/x86/readme_level_redelivery.scn", undefined, ["hypervisor"]);
  assert.deepEqual(plain.words.get("hypervisor"), []);
  const hv = file("hyperv.scn", 'scenario "t"\nvm a { arch x86_64 hyperv_synic 2 }\n');
  assert.deepEqual(readArches(hv, undefined, ["hyperv_synic"]).words.get("hyperv_synic"), [
    undefined,
  ]);
});

Deno.test("archesNamed() reads every scenario of a host file", () => {
  assert.deepEqual(archesNamed("tests/fixtures/hosts/two_fenced.md"), ["x86_64", "x86_64"]);
});

globalThis.addEventListener("unload", () => Deno.removeSync(DIR, { recursive: true }));
