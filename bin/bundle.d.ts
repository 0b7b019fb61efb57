export declare const PACKAGE_ROOT: string;
/** The bundle of an entry (a path from the package root), built on first use in this process. */
export declare function bundle(name: string, entry: string): URL;
