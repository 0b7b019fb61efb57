// Reading a new user's password without it ever showing: from stdin (--password-stdin, for
// scripts), or typed at a terminal prompt with echo off and asked twice.
import { ValidationError } from '../errors.ts';

async function readAll(stream: NodeJS.ReadStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk;
  return text;
}

function prompt(question: string): Promise<string> {
  const input = process.stdin;
  const output = process.stderr;
  return new Promise((resolve, reject) => {
    output.write(question);
    input.setRawMode(true);
    input.resume();
    input.setEncoding('utf8');
    let typed = '';
    const onData = (text: string) => {
      for (const char of text) {
        if (char === '\r' || char === '\n') {
          done();
          resolve(typed);
          return;
        }
        if (char === '\u0003') {
          done();
          reject(new ValidationError('cancelled'));
          return;
        }
        if (char === '\u007f' || char === '\b') typed = typed.slice(0, -1);
        else typed += char;
      }
    };
    const done = () => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      output.write('\n');
    };
    input.on('data', onData);
  });
}

export async function readPassword(fromStdin: boolean): Promise<string> {
  if (fromStdin) {
    const text = (await readAll(process.stdin)).replace(/\r?\n$/, '');
    if (!text) throw new ValidationError('--password-stdin read no password');
    return text;
  }
  if (!process.stdin.isTTY) throw new ValidationError('no terminal to ask the password at: pipe it with --password-stdin');
  const first = await prompt('Password: ');
  const second = await prompt('Password again: ');
  if (first !== second) throw new ValidationError('the two passwords differ');
  return first;
}
