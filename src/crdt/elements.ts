/**
 * How the sets and maps identify elements: a string key per element. Strings, numbers
 * and booleans have one built in; any other element type needs a `keyOf` function that
 * gives equal elements equal keys.
 *
 * @module
 */

import { InvalidArgumentError, requireFunction } from '../core/index.js';

/** Gives an element its identity: equal elements must get equal keys. */
export type ElementKeyOf<E> = (element: E) => string;

/** Options shared by the sets and maps. */
export interface ElementOptions<E> {
  /**
   * The identity of an element. Default: built in for strings, numbers and booleans
   * (`'a'` and `1` and `true` are distinct); required for any other element type.
   */
  readonly keyOf?: ElementKeyOf<E>;
}

/** The default key for primitive elements; throws for anything else. */
export function primitiveKey(element: unknown): string {
  switch (typeof element) {
    case 'string':
      return `s${element}`;
    case 'number':
      if (Number.isNaN(element)) {
        throw new InvalidArgumentError('element', 'NaN cannot be a set element or map key.');
      }
      return `n${Object.is(element, -0) ? 0 : element}`;
    case 'boolean':
      return `b${element}`;
    default:
      throw new InvalidArgumentError(
        'element',
        `a ${typeof element} element needs options.keyOf to say which elements are equal; only strings, numbers and booleans have a built-in identity.`,
      );
  }
}

/** Resolves the key function of `options` (checked). */
export function keyFunction<E>(
  name: string,
  options: ElementOptions<E> | undefined,
): ElementKeyOf<E> {
  if (options?.keyOf === undefined) {
    return primitiveKey;
  }
  return requireFunction(`${name} options.keyOf`, options.keyOf);
}
