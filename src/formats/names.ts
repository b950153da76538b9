/**
 * Safety rules for member names inside archives (tar members, zip entries). A name is a relative
 * path of '/'-separated segments that cannot leave the archive's root on any platform.
 */

/** Why `name` is unsafe, or undefined if it is a safe relative path. `./` prefixes are allowed. */
export function unsafeNameReason(name: string): string | undefined {
  if (name.length === 0) return 'name is empty';
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return `name contains control character 0x${c.toString(16).padStart(2, '0')}`;
  }
  if (name.includes('\\')) return 'name contains a backslash';
  if (name.startsWith('/')) return 'name is an absolute path';
  if (/^[A-Za-z]:/.test(name)) return 'name starts with a drive letter';
  const segments = name.replace(/\/$/, '').split('/');
  if (segments.some((s) => s === '..')) return 'name has a ".." segment';
  if (segments.some((s, i) => s === '' && i > 0)) return 'name has an empty segment';
  return undefined;
}

/** Decodes UTF-8, or returns undefined if the bytes are not valid UTF-8. */
export function decodeUtf8Strict(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/** A name quoted for an error message, control characters escaped. */
export function quoteName(name: string): string {
  return JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}…` : name);
}
