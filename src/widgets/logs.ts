/**
 * A read-only tab with a container's logs.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

/**
 * Create a tab showing `logs` as text (never as HTML: logs are untrusted).
 */
export function createLogsTab(
  urlId: string,
  uiName: string,
  logs: string,
  trans: TranslationBundle
): MainAreaWidget<Widget> {
  const content = new Widget({ node: document.createElement('pre') });
  content.addClass('jp-RemoteApp-logs');
  content.node.textContent = logs || trans.__('(no output)');
  const widget = new MainAreaWidget({ content });
  widget.id = `remoteapp-logs-${urlId}-${Date.now()}`;
  widget.title.label = trans.__('Logs: %1', uiName);
  widget.title.closable = true;
  return widget;
}
