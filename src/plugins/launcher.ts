/**
 * The launcher cards: one per application entry the user may start.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { IDisposable } from '@lumino/disposable';

import { CommandIDs, IRemoteApps, TRANSLATION_DOMAIN } from '../tokens';

export const launcherPlugin: JupyterFrontEndPlugin<void> = {
  id: 'remoteapp:launcher',
  description: 'Add the remote applications to the launcher.',
  autoStart: true,
  requires: [IRemoteApps, ILauncher],
  optional: [ITranslator, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    model: IRemoteApps,
    launcher: ILauncher,
    translator: ITranslator | null,
    palette: ICommandPalette | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    // mapping_id → the launcher card and palette item of that entry.
    const items = new Map<string, IDisposable[]>();

    const sync = () => {
      const wanted = new Set(model.applications.map(e => e.mapping_id));
      for (const [mappingId, disposables] of items) {
        if (!wanted.has(mappingId)) {
          disposables.forEach(d => d.dispose());
          items.delete(mappingId);
        }
      }
      model.applications.forEach((entry, rank) => {
        if (items.has(entry.mapping_id)) {
          return;
        }
        const args = { mapping_id: entry.mapping_id };
        const disposables: IDisposable[] = [
          launcher.add({
            command: CommandIDs.start,
            args,
            category: trans.__('Remote Apps'),
            rank
          })
        ];
        if (palette) {
          disposables.push(
            palette.addItem({
              command: CommandIDs.start,
              args,
              category: trans.__('Remote Apps')
            })
          );
        }
        items.set(entry.mapping_id, disposables);
      });
      // Labels, captions and icons are functions of the model: refresh them.
      app.commands.notifyCommandChanged(CommandIDs.start);
    };
    model.changed.connect(sync);
    sync();
  }
};
