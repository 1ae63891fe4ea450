/**
 * Reads distkit's own source tree for the package-level checks: which module folders
 * exist, which files they hold, and what each file imports.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const sourceRoot = join(repositoryRoot, 'src');

/** Module names: every folder of `src/`, except that `src/adapters/<engine>` are modules each. */
export function moduleFolders(): string[] {
  const names: string[] = [];
  for (const entry of readdirSync(sourceRoot, { withFileTypes: true })) {
    if (!entry.isDirectory()) {
      continue;
    }
    if (entry.name === 'adapters') {
      for (const engine of readdirSync(join(sourceRoot, 'adapters'), { withFileTypes: true })) {
        if (engine.isDirectory()) {
          names.push(`adapters/${engine.name}`);
        }
      }
    } else {
      names.push(entry.name);
    }
  }
  return names.sort();
}

/** Every `.ts` file under `folder`, as absolute paths. */
export function typeScriptFiles(folder: string): string[] {
  const found: string[] = [];
  const visit = (path: string): void => {
    if (statSync(path).isDirectory()) {
      for (const entry of readdirSync(path)) {
        visit(join(path, entry));
      }
    } else if (path.endsWith('.ts')) {
      found.push(path);
    }
  };
  if (existsSync(folder)) {
    visit(folder);
  }
  return found.sort();
}

/** The module a file under `src/` belongs to, for example `core` or `adapters/redis`. */
export function moduleOfFile(file: string): string {
  const parts = relative(sourceRoot, file).split(sep);
  return parts[0] === 'adapters' ? `adapters/${parts[1]}` : (parts[0] as string);
}

/** A file's source with comments blanked out (strings kept), so prose cannot match code checks. */
export function sourceWithoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\/|(^|[^:'"`\\])\/\/.*$/gm, (match, prefix?: string) =>
    match.startsWith('/*') ? match.replace(/[^\n]/g, ' ') : `${prefix ?? ''}`,
  );
}

/** The module specifiers a file imports or re-exports, static and dynamic. */
export function importSpecifiers(source: string): string[] {
  const code = sourceWithoutComments(source);
  const specifiers: string[] = [];
  const patterns = [
    /\b(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const match of code.matchAll(pattern)) {
      specifiers.push(match[1] as string);
    }
  }
  return specifiers;
}

/** Reads a file as UTF-8. */
export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}
