// Writing an answer of any size (an error file, every rejected row as JSON) a chunk at a time.
import type { Writable } from 'node:stream';

/** Writes every chunk in order, waiting whenever the stream's buffer is full (never all of it in memory). */
export async function writeChunks(out: Writable, chunks: AsyncIterable<string>): Promise<void> {
  for await (const chunk of chunks) {
    if (!out.write(chunk)) await new Promise((resolve) => out.once('drain', resolve));
  }
}
