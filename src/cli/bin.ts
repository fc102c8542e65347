#!/usr/bin/env node
import { main } from "./main.js";

// Exit explicitly: SDK keep-alive sockets would otherwise hold the process open.
process.exit(await main(process.argv.slice(2)));
