#!/usr/bin/env node
// Entry point of `npm start`: loads the TypeScript sources through tsx.
import { register } from 'tsx/esm/api';

register();
await import('../services/server/main.ts');
