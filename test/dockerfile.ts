import { readFileSync } from "node:fs";

// A small Dockerfile reader for the tests of the images (no Docker engine runs here).

export interface Instruction {
  keyword: string;
  args: string;
}

export interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** Instructions before the first FROM (global ARGs). */
  args: Instruction[];
  stages: Stage[];
  stage(name: string): Stage;
  /** The stage and the chain of stages it is built FROM, nearest first. */
  lineage(name: string): Stage[];
  /** The last value of `keyword` in a stage or the stages it inherits from (what the image ends up with). */
  effective(name: string, keyword: string): string | undefined;
  /** The arguments of every RUN of one stage. */
  runs(name: string): string[];
  /** Resolves `${NAME}` in a FROM line with the global ARG defaults. */
  resolveImage(from: string): string;
}

/** Splits a Dockerfile into instructions (comments dropped, `\` continuations joined) grouped by stage. */
export function readDockerfile(path: string): Dockerfile {
  const joined = readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("#"))
    .join("\n")
    .replace(/\\\n/g, " ");
  const instructions = joined
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .map((line) => {
      const [keyword = "", ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(" ") };
    });
  const args: Instruction[] = [];
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === "FROM") {
      const [from = "", as, name] = instruction.args.split(/\s+/);
      stages.push({ from, name: as?.toUpperCase() === "AS" ? name : undefined, instructions: [] });
    } else if (stages.length === 0) {
      args.push(instruction);
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }

  const stage = (name: string) => {
    const found = stages.find((s) => s.name === name);
    if (!found) throw new Error(`no stage named ${name}`);
    return found;
  };
  const lineage = (name: string) => {
    const chain: Stage[] = [];
    let current: Stage | undefined = stage(name);
    while (current) {
      chain.push(current);
      const parent: string = current.from;
      current = stages.find((s) => s.name === parent);
    }
    return chain;
  };
  return {
    args,
    stages,
    stage,
    lineage,
    effective(name, keyword) {
      for (const s of lineage(name)) {
        const found = s.instructions.filter((i) => i.keyword === keyword).at(-1);
        if (found) return found.args;
      }
      return undefined;
    },
    runs: (name) =>
      stage(name)
        .instructions.filter((i) => i.keyword === "RUN")
        .map((i) => i.args),
    resolveImage: (from) =>
      from.replace(/\$\{(\w+)\}/g, (_, name: string) => {
        const arg = args.find((a) => a.args.startsWith(`${name}=`));
        if (!arg) throw new Error(`ARG ${name} has no default`);
        return arg.args.slice(name.length + 1);
      }),
  };
}
