#!/usr/bin/env node
import { main } from "./main.js";

process.exitCode = await main(process.argv.slice(2));
// A pipe takes writes asynchronously: exiting before it drains cuts the output off. Once everything
// written has been handed over, exit explicitly, or SDK keep-alive sockets would hold the process open.
await Promise.all([drained(process.stdout), drained(process.stderr)]);
process.exit();

/** Resolves once every write queued on the stream before it has been flushed (callbacks run in order). */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write("", () => resolve()));
}
