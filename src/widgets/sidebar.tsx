/**
 * The Remote Apps sidebar: the applications the user may start and their
 * running containers.
 *
 * React renders every server-supplied string as text (no
 * dangerouslySetInnerHTML anywhere): names and descriptions come from image
 * labels.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import * as React from 'react';

import { iconDataURL } from '../icons';
import { age, policySummary } from '../policy';
import {
  CommandIDs,
  IApplicationEntry,
  IContainer,
  IRemoteApps,
  IStartProgress
} from '../tokens';

interface IPanelProps {
  model: IRemoteApps;
  commands: CommandRegistry;
  trans: TranslationBundle;
  progress: Map<string, IStartProgress>;
}

function AppIcon(props: { icon128: string }): JSX.Element {
  const url = iconDataURL(props.icon128);
  return url ? (
    <img className="jp-RemoteApp-icon" src={url} alt="" />
  ) : (
    <span className="jp-RemoteApp-icon" />
  );
}

function ApplicationItem(
  props: IPanelProps & { entry: IApplicationEntry }
): JSX.Element {
  const { entry, commands, trans, progress } = props;
  const starting = progress.get(entry.mapping_id) ?? entry.starting;
  return (
    <li
      className="jp-RemoteApp-item"
      data-mapping-id={entry.mapping_id}
      title={entry.image.description}
    >
      <AppIcon icon128={entry.image.icon_128} />
      <div className="jp-RemoteApp-itemText">
        <div className="jp-RemoteApp-itemName">{entry.image.ui_name}</div>
        <div className="jp-RemoteApp-itemDetail">
          {starting ? starting.message : policySummary(entry.policy, trans)}
        </div>
      </div>
      <button
        type="button"
        className="jp-mod-styled jp-mod-accept jp-RemoteApp-button"
        title={trans.__('Start %1', entry.image.ui_name)}
        aria-label={trans.__('Start %1', entry.image.ui_name)}
        disabled={!!starting}
        onClick={() =>
          void commands.execute(CommandIDs.start, {
            mapping_id: entry.mapping_id
          })
        }
      >
        {starting ? trans.__('Starting…') : trans.__('Start')}
      </button>
    </li>
  );
}

function ContainerItem(
  props: IPanelProps & { container: IContainer }
): JSX.Element {
  const { container, commands, trans } = props;
  const args = { url_id: container.url_id };
  return (
    <li className="jp-RemoteApp-item" data-url-id={container.url_id}>
      <div className="jp-RemoteApp-itemText">
        <div className="jp-RemoteApp-itemName">{container.ui_name}</div>
        <div className="jp-RemoteApp-itemDetail">
          {trans.__(
            '%1 · %2',
            container.status,
            age(container.started_at, trans) || '–'
          )}
        </div>
      </div>
      <div className="jp-RemoteApp-actions">
        <button
          type="button"
          className="jp-mod-styled jp-RemoteApp-button"
          title={trans.__('Open %1 in a tab', container.ui_name)}
          aria-label={trans.__('Open %1 in a tab', container.ui_name)}
          onClick={() => void commands.execute(CommandIDs.open, args)}
        >
          {trans.__('Open')}
        </button>
        <button
          type="button"
          className="jp-mod-styled jp-RemoteApp-button"
          title={trans.__('Logs of %1', container.ui_name)}
          aria-label={trans.__('Logs of %1', container.ui_name)}
          onClick={() => void commands.execute(CommandIDs.logs, args)}
        >
          {trans.__('Logs')}
        </button>
        <button
          type="button"
          className="jp-mod-styled jp-mod-warn jp-RemoteApp-button"
          title={trans.__('Stop %1', container.ui_name)}
          aria-label={trans.__('Stop %1', container.ui_name)}
          onClick={() => void commands.execute(CommandIDs.stop, args)}
        >
          {trans.__('Stop')}
        </button>
      </div>
    </li>
  );
}

function RemoteAppsPanelContent(props: IPanelProps): JSX.Element {
  const { model, trans, commands } = props;
  // Re-render now and then so that the ages stay current.
  const [, setTick] = React.useState(0);
  React.useEffect(() => {
    const timer = window.setInterval(() => setTick(t => t + 1), 30000);
    return () => window.clearInterval(timer);
  }, []);
  return (
    <div className="jp-RemoteApp-sidebar">
      <div className="jp-RemoteApp-header">
        <h2>{trans.__('Remote Apps')}</h2>
        <button
          type="button"
          className="jp-mod-styled jp-RemoteApp-button"
          title={trans.__('Refresh')}
          onClick={() => void commands.execute(CommandIDs.refresh)}
        >
          {trans.__('Refresh')}
        </button>
      </div>
      {!model.available && (
        <div className="jp-RemoteApp-status">
          {trans.__('Connecting to the remoteapp server…')}
        </div>
      )}
      <h3>{trans.__('Applications')}</h3>
      {model.applications.length === 0 ? (
        <p className="jp-RemoteApp-empty">
          {trans.__('No application has been granted to you yet.')}
        </p>
      ) : (
        <ul className="jp-RemoteApp-list jp-RemoteApp-applications">
          {model.applications.map(entry => (
            <ApplicationItem key={entry.mapping_id} entry={entry} {...props} />
          ))}
        </ul>
      )}
      <h3>{trans.__('Running')}</h3>
      {model.containers.length === 0 ? (
        <p className="jp-RemoteApp-empty">
          {trans.__('No application is running.')}
        </p>
      ) : (
        <ul className="jp-RemoteApp-list jp-RemoteApp-containers">
          {model.containers.map(container => (
            <ContainerItem
              key={container.url_id}
              container={container}
              {...props}
            />
          ))}
        </ul>
      )}
    </div>
  );
}

/**
 * The sidebar widget.
 */
export class RemoteAppsPanel extends ReactWidget {
  constructor(options: RemoteAppsPanel.IOptions) {
    super();
    this._options = options;
    this.addClass('jp-RemoteApp-panel');
    // Progress of starts made from this page, shown in place of the policy.
    options.model.startProgress.connect((_, { mappingId, progress }) => {
      if (progress.stage === 'ready' || progress.stage === 'done') {
        this._progress.delete(mappingId);
      } else {
        this._progress.set(mappingId, progress);
      }
      this.update();
    }, this);
    options.model.changed.connect(() => {
      // The server's `starting` field takes over after a refresh.
      this._progress.clear();
    }, this);
  }

  render(): JSX.Element {
    const { model } = this._options;
    return (
      <UseSignal signal={model.changed}>
        {() => (
          <RemoteAppsPanelContent
            {...this._options}
            progress={this._progress}
          />
        )}
      </UseSignal>
    );
  }

  private _options: RemoteAppsPanel.IOptions;
  private _progress = new Map<string, IStartProgress>();
}

export namespace RemoteAppsPanel {
  export interface IOptions {
    model: IRemoteApps;
    commands: CommandRegistry;
    trans: TranslationBundle;
  }
}
