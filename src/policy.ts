/**
 * Human readable descriptions of grants' policies.
 */
import { TranslationBundle } from '@jupyterlab/translation';

import { IApplicationEntry, IPolicy } from './tokens';

/**
 * The policy as short phrases, e.g. ["home mounted", "volume /data → /mnt (ro)"].
 */
export function policyPhrases(
  policy: IPolicy,
  trans: TranslationBundle
): string[] {
  const phrases: string[] = [];
  if (policy.allow_home) {
    phrases.push(trans.__('home mounted'));
  }
  if (policy.volume_source) {
    phrases.push(
      trans.__(
        'volume %1 → %2 (%3)',
        policy.volume_source,
        policy.volume_target,
        policy.volume_mode || 'rw'
      )
    );
  }
  if (policy.allow_common) {
    phrases.push(trans.__('common volume'));
  }
  if (policy.allow_startup_data) {
    phrases.push(trans.__('startup data'));
  }
  if (policy.allow_view) {
    phrases.push(trans.__('viewable by others'));
  }
  if (policy.app_license) {
    phrases.push(trans.__('licensed'));
  }
  return phrases;
}

/**
 * One line describing the policy ("no home, no volumes" when empty).
 */
export function policySummary(
  policy: IPolicy,
  trans: TranslationBundle
): string {
  const phrases = policyPhrases(policy, trans);
  return phrases.length > 0
    ? phrases.join(', ')
    : trans.__('isolated (no home, no volumes)');
}

/**
 * The tooltip of an application: description and policy.
 */
export function applicationCaption(
  entry: IApplicationEntry,
  trans: TranslationBundle
): string {
  return trans.__(
    '%1\nPolicy: %2',
    entry.image.description || entry.image.ui_name,
    policySummary(entry.policy, trans)
  );
}

/**
 * How long ago an ISO date was, e.g. "5 min" ('' for an invalid date).
 */
export function age(
  startedAt: string,
  trans: TranslationBundle,
  now = Date.now()
): string {
  const started = Date.parse(startedAt);
  if (isNaN(started)) {
    return '';
  }
  const seconds = Math.max(0, Math.round((now - started) / 1000));
  if (seconds < 60) {
    return trans.__('%1 s', seconds);
  }
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) {
    return trans.__('%1 min', minutes);
  }
  const hours = Math.floor(minutes / 60);
  if (hours < 48) {
    return trans.__('%1 h %2 min', hours, minutes % 60);
  }
  return trans.__('%1 d', Math.floor(hours / 24));
}
