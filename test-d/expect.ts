// A type assertion that fails to compile unless T and U are the same type.
export type Equal<T, U> = (<V>() => V extends T ? 1 : 2) extends <V>() => V extends U ? 1 : 2 ? true : false;
export function expectType<T extends true>(_ok?: T): void {}
