#!/usr/bin/env node
// Entry point of the `careos` command: runs services/cli/main.ts from its bundle (bin/bundle.js).
import { bundle } from './bundle.js';

const { main } = await import(bundle('cli', 'services/cli/main.ts').href);
process.exitCode = await main(process.argv.slice(2));
