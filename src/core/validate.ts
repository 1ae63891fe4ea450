/**
 * Argument checks shared by every public entry point. Each throws
 * {@link InvalidArgumentError} with a message that names the argument, the rule and the
 * value received, so the caller can fix the call without reading distkit's source.
 *
 * @module
 */

import { InvalidArgumentError } from './errors.js';

/** Renders a received value for an error message, briefly and without throwing. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    return value.length > 40 ? `a string of length ${value.length}` : JSON.stringify(value);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return `${typeof value} ${String(value)}`;
  }
  if (value === null) {
    return 'null';
  }
  if (value === undefined) {
    return 'undefined';
  }
  if (Array.isArray(value)) {
    return `an array of length ${value.length}`;
  }
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** Bounds for {@link requireInteger} and {@link requireNumber}; both ends inclusive. */
export interface RangeBounds {
  readonly min?: number;
  readonly max?: number;
}

function rangeText(bounds: RangeBounds): string {
  const { min, max } = bounds;
  if (min !== undefined && max !== undefined) {
    return ` from ${min} to ${max}`;
  }
  if (min !== undefined) {
    return ` >= ${min}`;
  }
  if (max !== undefined) {
    return ` <= ${max}`;
  }
  return '';
}

function inRange(value: number, bounds: RangeBounds): boolean {
  return (
    (bounds.min === undefined || value >= bounds.min) &&
    (bounds.max === undefined || value <= bounds.max)
  );
}

/** Requires a safe integer within `bounds`; returns it. */
export function requireInteger(name: string, value: unknown, bounds: RangeBounds = {}): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || !inRange(value, bounds)) {
    throw new InvalidArgumentError(
      name,
      `${name} must be an integer${rangeText(bounds)}; got ${describeValue(value)}.`,
    );
  }
  return value;
}

/** Requires a finite number within `bounds`; returns it. */
export function requireNumber(name: string, value: unknown, bounds: RangeBounds = {}): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !inRange(value, bounds)) {
    throw new InvalidArgumentError(
      name,
      `${name} must be a finite number${rangeText(bounds)}; got ${describeValue(value)}.`,
    );
  }
  return value;
}

/** Requires a function; returns it. */
export function requireFunction<T extends (...args: never[]) => unknown>(
  name: string,
  value: unknown,
): T {
  if (typeof value !== 'function') {
    throw new InvalidArgumentError(
      name,
      `${name} must be a function; got ${describeValue(value)}.`,
    );
  }
  return value as T;
}

/** Requires a string (non-empty unless `allowEmpty`); returns it. */
export function requireString(name: string, value: unknown, allowEmpty = false): string {
  if (typeof value !== 'string' || (!allowEmpty && value.length === 0)) {
    throw new InvalidArgumentError(
      name,
      `${name} must be a ${allowEmpty ? '' : 'non-empty '}string; got ${describeValue(value)}.`,
    );
  }
  return value;
}

/** Requires a boolean; returns it. */
export function requireBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') {
    throw new InvalidArgumentError(name, `${name} must be a boolean; got ${describeValue(value)}.`);
  }
  return value;
}

/**
 * Requires an options object (a plain object, not null or an array). `undefined` is
 * accepted as "no options" and becomes an empty object.
 */
export function requireOptions<T extends object>(name: string, value: T | undefined): T {
  if (value === undefined) {
    return {} as T;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(
      name,
      `${name} must be an options object; got ${describeValue(value)}.`,
    );
  }
  return value;
}

/** Requires an `AbortSignal` or `undefined`; returns it. */
export function requireOptionalSignal(name: string, value: unknown): AbortSignal | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof (value as AbortSignal).aborted !== 'boolean' ||
    typeof (value as AbortSignal).addEventListener !== 'function'
  ) {
    throw new InvalidArgumentError(
      name,
      `${name} must be an AbortSignal or undefined; got ${describeValue(value)}.`,
    );
  }
  return value as AbortSignal;
}

/** Requires one of the listed string values; returns it. */
export function requireOneOf<const T extends string>(
  name: string,
  value: unknown,
  allowed: readonly T[],
): T {
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw new InvalidArgumentError(
      name,
      `${name} must be one of ${allowed.map((item) => `'${item}'`).join(', ')}; got ${describeValue(value)}.`,
    );
  }
  return value as T;
}
