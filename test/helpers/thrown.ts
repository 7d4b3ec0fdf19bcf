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
