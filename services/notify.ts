// Where the background parts (the database supervisor, the disk-full watch) tell the operator what
// happened. A CLI prints it on stderr as "careos: …" (its stdout may be --json); the server hands
// it to its JSON log (main.ts calls setNotifier).
export type NoticeLevel = 'info' | 'warn' | 'error';

let sink: (level: NoticeLevel, message: string) => void = (level, message) => {
  if (level === 'info') console.log(`careos: ${message}`);
  else console.error(`careos: ${message}`);
};

export function notify(level: NoticeLevel, message: string): void {
  sink(level, message);
}

export function setNotifier(next: (level: NoticeLevel, message: string) => void): void {
  sink = next;
}
