/** The machine's MariaDB (127.0.0.1:3306, root without a password) as tests use it: a scratch database each. */
import { randomBytes } from "node:crypto";
import mysql from "mysql2/promise";

export const MARIADB = { host: "127.0.0.1", port: 3306, user: "root", password: "" } as const;

export async function rootConnection(): Promise<mysql.Connection> {
  return mysql.createConnection({ ...MARIADB, multipleStatements: true });
}

/** A fresh database (and whatever `setup` creates in it); drop() removes it and the users named. */
export async function scratchDatabase(
  prefix: string,
  setup: string,
): Promise<{ name: string; drop(users?: string[]): Promise<void> }> {
  const name = `${prefix}_${randomBytes(4).toString("hex")}`;
  const root = await rootConnection();
  try {
    await root.query(`CREATE DATABASE \`${name}\`; USE \`${name}\`; ${setup}`);
  } finally {
    await root.end();
  }
  return {
    name,
    async drop(users = []) {
      const c = await rootConnection();
      try {
        for (const user of users) await c.query(`DROP USER IF EXISTS ${user}`);
        await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await c.end();
      }
    },
  };
}
