// What the snippets import as "your datafile": the harness project's (../datafile.ts).
export { datafile } from '../datafile';
