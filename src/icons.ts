/**
 * Icons of the extension.
 */
import { LabIcon } from '@jupyterlab/ui-components';

import { IApplicationEntry } from './tokens';

/**
 * The Remote Apps sidebar icon: a window with a play triangle.
 */
export const remoteAppIcon = new LabIcon({
  name: 'remoteapp:remote-app',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">' +
    '<g class="jp-icon3" fill="#616161">' +
    '<path d="M3 4h18a1 1 0 0 1 1 1v14a1 1 0 0 1-1 1H3a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1zm1 4v10h16V8H4z"/>' +
    '<path d="M10 10l5 3-5 3z"/>' +
    '</g></svg>'
});

/**
 * The admin sidebar icon: a key.
 */
export const remoteAppAdminIcon = new LabIcon({
  name: 'remoteapp:admin',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">' +
    '<g class="jp-icon3" fill="#616161">' +
    '<path d="M3 4h18a1 1 0 0 1 1 1v14a1 1 0 0 1-1 1H3a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1zm1 4v10h16V8H4z"/>' +
    '<circle cx="9" cy="13" r="2.5"/><path d="M11 12.2h7v1.6h-1.5v2h-1.6v-2H11z"/>' +
    '</g></svg>'
});

/**
 * Whether a string is plain base64 (nothing that could escape an SVG attribute).
 */
export function isBase64(value: string): boolean {
  return /^[A-Za-z0-9+/]+={0,2}$/.test(value);
}

/**
 * The `data:` URL of an application's icon, or '' when it has none.
 */
export function iconDataURL(icon128: string): string {
  const value = icon128.replace(/\s+/g, '');
  return value && isBase64(value) ? `data:image/png;base64,${value}` : '';
}

const appIcons = new Map<string, LabIcon>();

/**
 * A LabIcon showing an application's `icon_128` PNG (the launcher renders
 * LabIcons); the sidebar icon when the image has none.
 *
 * The base64 text is checked before it goes into the SVG, so a label cannot
 * inject markup.
 */
export function applicationIcon(entry: IApplicationEntry): LabIcon {
  const url = iconDataURL(entry.image.icon_128);
  if (!url) {
    return remoteAppIcon;
  }
  const name = `remoteapp:app-${entry.image.name}`;
  let icon = appIcons.get(name);
  if (!icon) {
    icon = new LabIcon({
      name,
      svgstr:
        '<svg xmlns="http://www.w3.org/2000/svg" ' +
        'xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 128 128">' +
        `<image width="128" height="128" href="${url}" xlink:href="${url}"/>` +
        '</svg>'
    });
    appIcons.set(name, icon);
  }
  return icon;
}
