/**
 * Error notifications with the server's full message behind a "Details" action.
 */
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

/**
 * Show an error with a "Details" action that shows the server's full message
 * (as text) and the HTTP status when there is one.
 */
export function notifyError(
  summary: string,
  error: unknown,
  trans: TranslationBundle
): void {
  const status = (error as { status?: unknown } | null)?.status;
  const message = error instanceof Error ? error.message : String(error);
  const short = message.length > 140 ? message.slice(0, 140) + '…' : message;
  Notification.error(`${summary}: ${short}`, {
    autoClose: false,
    actions: [
      {
        label: trans.__('Details'),
        callback: () => {
          const pre = document.createElement('pre');
          pre.className = 'jp-RemoteApp-errorDetails';
          pre.textContent =
            typeof status === 'number' && status > 0
              ? trans.__('HTTP status %1\n\n%2', status, message)
              : message;
          void showDialog({
            title: summary,
            body: new Widget({ node: pre }),
            buttons: [Dialog.okButton({ label: trans.__('Close') })]
          });
        }
      }
    ]
  });
}
