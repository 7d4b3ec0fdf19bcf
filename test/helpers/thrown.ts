/** The error `fn` throws; fails the test when it throws nothing. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function thrown(fn: () => unknown, what = ''): any {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error(`expected an error${what ? ` for ${what}` : ''}, nothing was thrown`);
}

/** The `code` of the error of class `cls` that `fn` throws; undefined when it throws nothing. Other errors propagate. */
export function codeOf<E extends Error & { code: string }>(cls: abstract new (...args: never[]) => E, fn: () => unknown): E['code'] | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof cls) return e.code;
    throw e;
  }
  return undefined;
}
