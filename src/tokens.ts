/**
 * Shared identifiers and the REST payload types of the remoteapp extension.
 *
 * This module has no side effects beyond creating the token: it can be
 * imported from anywhere (plugins, widgets, tests).
 */
import { Token } from '@lumino/coreutils';
import type { ISignal } from '@lumino/signaling';

/**
 * The id of the main plugin; also the key of its settings (schema/plugin.json).
 */
export const PLUGIN_ID = 'remoteapp:plugin';

/**
 * The URL namespace of the server extension's REST API, below the base URL.
 */
export const API_NAMESPACE = 'remoteapp/api';

/**
 * The translation domain of the extension.
 */
export const TRANSLATION_DOMAIN = 'remoteapp';

/**
 * The command ids of the extension.
 */
export namespace CommandIDs {
  /** Start an application (args: `mapping_id`, optional `resolution`). */
  export const start = 'remoteapp:start';
  /** Open a running container in a Lab tab (args: `url_id`). */
  export const open = 'remoteapp:open';
  /** Open a running container in a new browser tab (args: `url_id`). */
  export const openInBrowserTab = 'remoteapp:open-in-browser-tab';
  /** Stop a running container (args: `url_id`). */
  export const stop = 'remoteapp:stop';
  /** Refresh the list of applications and containers. */
  export const refresh = 'remoteapp:refresh';
}

/**
 * The kind of an application image.
 */
export type ApplicationType = 'vnc' | 'webapp' | string;

/**
 * `GET remoteapp/api/me`: who the current user is.
 */
export interface IMe {
  /** The user name. */
  name: string;
  /** Whether the user may administrate images and accounting. */
  admin: boolean;
  /** The scopes granted to the user (JupyterHub scopes, or local ones). */
  scopes: string[];
  /** How the server runs (e.g. standalone or under JupyterHub). */
  mode: string;
}

/**
 * An application image as the server describes it.
 */
export interface IImage {
  /** The docker image name (repository:tag). */
  name: string;
  /** The human readable name. */
  ui_name: string;
  /** A short description. */
  description: string;
  /** A 128x128 icon as a data URL or base64 PNG; empty when there is none. */
  icon_128: string;
  /** The kind of application. */
  type: ApplicationType;
  /** The names of the settings the user can choose at start (e.g. `resolution`). */
  configurables: string[];
}

/**
 * The policy that governs how an application is started for the user.
 */
export interface IApplicationPolicy {
  /** Whether the user's home directory is mounted in the container. */
  allow_home?: boolean;
  /** Whether the container may be opened from outside of JupyterLab. */
  allow_view?: boolean;
  /** The host path of an additional volume, if any. */
  volume_source?: string | null;
  /** The mount point of the additional volume in the container. */
  volume_target?: string | null;
  /** The mode of the additional volume (`ro` or `rw`). */
  volume_mode?: string | null;
  /** Further policy fields that the server may add. */
  [key: string]: unknown;
}

/**
 * `GET remoteapp/api/applications`: one application the user may start.
 */
export interface IApplicationEntry {
  /** The id of the (user or group, image, policy) accounting mapping. */
  mapping_id: string;
  /** The image the application runs. */
  image: IImage;
  /** The policy the application is started with. */
  policy: IApplicationPolicy;
  /** The `url_id`s of the user's running containers of this application. */
  containers: string[];
}

/**
 * The status of a container.
 */
export type ContainerStatus =
  'starting' | 'running' | 'stopping' | 'stopped' | 'error' | string;

/**
 * `GET remoteapp/api/containers`: one container of the user.
 */
export interface IContainer {
  /** The opaque id of the container in URLs. */
  url_id: string;
  /** The accounting mapping the container was started from. */
  mapping_id: string;
  /** The docker image name. */
  image: string;
  /** The human readable name of the application. */
  ui_name: string;
  /** The kind of application. */
  type: ApplicationType;
  /** The URL (below the server's base URL) where the application is served. */
  url: string;
  /** The status of the container. */
  status: ContainerStatus;
  /** When the container was started (ISO 8601), if known. */
  started_at: string | null;
}

/**
 * The model of the user's applications and containers, shared by the UI.
 *
 * Placeholder: the full UI provides it in a later version.
 */
export interface IRemoteApps {
  /** The current user, once known. */
  readonly me: IMe | null;
  /** The applications the user may start. */
  readonly applications: ReadonlyArray<IApplicationEntry>;
  /** The user's containers. */
  readonly containers: ReadonlyArray<IContainer>;
  /** Emitted when `me`, `applications` or `containers` change. */
  readonly changed: ISignal<IRemoteApps, void>;
  /** Fetch the current state from the server. */
  refresh(): Promise<void>;
}

/**
 * The token of the remote applications model.
 */
export const IRemoteApps = new Token<IRemoteApps>(
  'remoteapp:IRemoteApps',
  'The remote applications (dockerized desktop and web apps) of the user.'
);
