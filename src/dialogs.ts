/**
 * The one stop-confirmation dialog: closing an app tab, the Stop command and
 * the admin sidebar's Stop all ask with it.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';

/** What the user chose. */
export type StopChoice = 'cancel' | 'keep' | 'stop';

/**
 * Ask whether to stop an application.
 *
 * @param name the application's name (and owner, when it is not the user's)
 * @param options.closing the user closes its tab: offer "Keep running" too
 */
export async function confirmStop(
  name: string,
  trans: TranslationBundle,
  options: { closing?: boolean } = {}
): Promise<StopChoice> {
  const buttons = [Dialog.cancelButton({ label: trans.__('Cancel') })];
  if (options.closing) {
    buttons.push(
      Dialog.okButton({
        label: trans.__('Keep running'),
        displayType: 'default',
        actions: ['keep']
      })
    );
  }
  buttons.push(
    Dialog.warnButton({ label: trans.__('Stop'), actions: ['stop'] })
  );
  const result = await showDialog({
    title: options.closing
      ? trans.__('Close %1', name)
      : trans.__('Stop %1?', name),
    body: options.closing
      ? trans.__(
          'Stop the application, or keep it running? A running application can be opened again from the Remote Apps sidebar.'
        )
      : trans.__('The container is removed; unsaved work in it is lost.'),
    buttons
  });
  if (!result.button.accept) {
    return 'cancel';
  }
  return result.button.actions.includes('stop') ? 'stop' : 'keep';
}
