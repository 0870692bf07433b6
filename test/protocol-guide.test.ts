/**
 * The hand-written guide in docs/protocol.md agrees with the schemas: every JSON example in it is
 * validated against the schema its `<!-- schema: … -->` comment names, every frame of its recorded
 * sessions (```text blocks, `>` sent, `<` received) is a valid frame whose params, result or push
 * data match their op or push, and every `<!-- backed by: FILE: NAME -->` names a test that exists.
 *
 * Schema comments: `<!-- schema: http/discovery#/$defs/response -->` (a reference into protocol/),
 * `<!-- schema: request op/auth -->` (a request frame and the op's params), `<!-- schema: reply
 * op/auth -->` (a reply frame and the op's result), `<!-- schema: error -->` (an HTTP error body).
 */
import t from "tap";
import { existsSync, readFileSync } from "node:fs";
import { loadProtocol } from "../protocol/index.ts";
import { errorCatalogue } from "../server/errors.ts";
import { beginMarker } from "../scripts/protocol-doc.ts";
import { docFile } from "../scripts/generate.ts";

const protocol = loadProtocol();
const guide = readFileSync(docFile, "utf8").split(beginMarker)[0];
const lines = guide.split("\n");

function errorsOf(ref: string, value: unknown): string {
  const validate = protocol.validator(ref);
  return validate(value) ? "" : protocol.ajv.errorsText(validate.errors);
}

/** What a schema comment asks of a value: "" when it holds, else what is wrong. */
function check(spec: string, value: any): string {
  const [kind, target] = spec.split(/\s+/);
  if (kind === "request") return errorsOf("frames#/$defs/Request", value) || errorsOf(`${target}#/$defs/params`, value.params ?? {});
  if (kind === "reply") return errorsOf("frames#/$defs/Reply", value) || (value.ok ? errorsOf(`${target}#/$defs/result`, value.result) : "");
  if (kind === "error") {
    const shape = value && typeof value === "object" && Object.keys(value).join() === "error" ? errorsOf("common#/$defs/ErrorBody", value.error) : "not { error }";
    return shape || (Object.hasOwn(errorCatalogue, value.error.code) ? "" : `${value.error.code} is not in the catalogue`);
  }
  return errorsOf(spec, value);
}

/** The fenced blocks of the guide, with their language, first line number and the comment before. */
function blocks(): { lang: string; line: number; body: string; comment: string | null }[] {
  const out: { lang: string; line: number; body: string; comment: string | null }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)$/.exec(lines[i]);
    if (!open) continue;
    let end = i + 1;
    while (end < lines.length && lines[end] !== "```") end++;
    let before = i - 1;
    while (before >= 0 && lines[before].trim() === "") before--;
    const comment = before >= 0 ? (/^\s*<!-- schema: (.+) -->$/.exec(lines[before])?.[1] ?? null) : null;
    out.push({ lang: open[1], line: i + 1, body: lines.slice(i + 1, end).join("\n"), comment });
    i = end;
  }
  return out;
}

t.test("every JSON example in the guide names its schema and matches it", async (t) => {
  const json = blocks().filter((b) => b.lang === "json");
  t.ok(json.length >= 8, `found ${json.length} JSON examples`);
  for (const b of json) {
    if (!b.comment) {
      t.fail(`docs/protocol.md:${b.line}: a JSON example without a <!-- schema: … --> comment before it`);
      continue;
    }
    const wrong = check(b.comment, JSON.parse(b.body));
    t.equal(wrong, "", `docs/protocol.md:${b.line} matches ${b.comment}`);
  }
});

t.test("every frame of the guide's recorded sessions is a valid frame of its op or push", async (t) => {
  let checked = 0;
  for (const b of blocks().filter((x) => x.lang === "text")) {
    const ops = new Map<unknown, string>();
    for (const [n, raw] of b.body.split("\n").entries()) {
      const m = /^([<>]) (\{.*)$/.exec(raw);
      if (!m) continue;
      let frame: any;
      try {
        frame = JSON.parse(m[2]);
      } catch {
        continue; // the session shows a frame that is not JSON on purpose
      }
      const where = `docs/protocol.md:${b.line + n + 1}`;
      checked++;
      if (m[1] === ">") {
        t.equal(errorsOf("frames#/$defs/Request", frame), "", `${where}: a request frame`);
        ops.set(frame.id, frame.op);
      } else if ("push" in frame) {
        t.equal(errorsOf("frames#/$defs/Push", frame) || errorsOf(`push/${frame.push}`, frame.data), "", `${where}: a ${frame.push} push`);
      } else {
        t.equal(errorsOf("frames#/$defs/Reply", frame), "", `${where}: a reply frame`);
        const op = ops.get(frame.id);
        if (frame.ok && op && protocol.ops.has(op)) t.equal(errorsOf(`op/${op}#/$defs/result`, frame.result), "", `${where}: the result of ${op}`);
        if (!frame.ok) t.ok(Object.hasOwn(errorCatalogue, frame.error.code), `${where}: ${frame.error.code} is in the catalogue`);
      }
    }
    // A request whose reply is a success had valid params.
    for (const [n, raw] of b.body.split("\n").entries()) {
      const m = /^> (\{.*)$/.exec(raw);
      if (!m) continue;
      let frame: any;
      try {
        frame = JSON.parse(m[1]);
      } catch {
        continue;
      }
      const answered = b.body.split("\n").some((l) => l.startsWith("< {") && l.includes(`"id":${JSON.stringify(frame.id)},"ok":true`));
      if (answered && protocol.ops.has(frame.op)) t.equal(errorsOf(`op/${frame.op}#/$defs/params`, frame.params ?? {}), "", `docs/protocol.md:${b.line + n + 1}: the params of ${frame.op}`);
    }
  }
  t.ok(checked >= 20, `checked ${checked} frames`);
});

t.test("every statement the guide says a test backs names a test that exists", async (t) => {
  const backed = [...guide.matchAll(/<!-- backed by: (test\/[^:]+\.test\.ts): (.+?) -->/g)];
  t.ok(backed.length >= 10, `found ${backed.length} references`);
  for (const [, file, name] of backed) {
    const source = existsSync(file) ? readFileSync(file, "utf8") : "";
    t.ok(source.includes(`t.test(${JSON.stringify(name)}`), `${file} has the test "${name}"`);
  }
  // The visibility section: each statement has one.
  const section = guide.slice(guide.indexOf("### What you see"), guide.indexOf("### Pushes and replies"));
  const bullets = section.split("\n- ").slice(1);
  t.ok(bullets.length >= 4);
  for (const bullet of bullets) t.match(bullet, /<!-- backed by: /, `"${bullet.slice(0, 40)}…" names its test`);
});
