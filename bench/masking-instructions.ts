/**
 * A fixed amount of masking work for instruction counting: `passes` passes over the 1,000 rows of
 * bench/masking.ts (PostgreSQL) or bench/mysql-masking.ts (MySQL) through one variant, after a fixed warm-up.
 * Wall-clock time is noise on a loaded machine; instructions under callgrind are not, when only the measured
 * passes are counted (startup, JIT warm-up and module loading vary by hundreds of millions between runs):
 *
 *   bench/masking-instructions.sh            # prints instructions per 1,000 rows for every variant
 *   node --import tsx bench/masking-instructions.ts <pg|mysql> <plain|rules|all> <passes>
 */
import { loadavg } from "node:os";
import { masker as pgMasker, runOnce as pgRun } from "./masking.js";
import { masker as mysqlMasker, run as mysqlRun } from "./mysql-masking.js";

const WARM_UP = 30;
const [proto = "pg", variant = "all", passesArg = "0"] = process.argv.slice(2);
const passes = Number(passesArg);
if (!Number.isInteger(passes) || passes < 0) throw new Error(`passes must be a whole number: ${passesArg}`);

let pass: () => void;
if (proto === "pg") {
  const m = await pgMasker(variant !== "plain", variant === "all" ? ["all"] : []);
  pass = () => pgRun(m);
} else if (proto === "mysql") {
  const m = variant === "plain" ? undefined : mysqlMasker(variant === "all" ? ["all"] : []);
  pass = () => mysqlRun(m);
} else throw new Error(`unknown protocol ${proto}`);

for (let i = 0; i < WARM_UP; i++) pass();
// The measured passes lie between two calls into uv_loadavg, so that callgrind can count only them:
// with --dump-before=uv_loadavg its second dump holds exactly what ran in between.
loadavg();
for (let i = 0; i < passes; i++) pass();
loadavg();
