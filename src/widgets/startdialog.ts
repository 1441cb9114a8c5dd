/**
 * The dialog that asks for an application's configurables before a start.
 */
import { Dialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import {
  IApplicationEntry,
  IConfigurable,
  IStartConfigurables
} from '../tokens';

/** The value of the resolution choice that fits the desktop to the tab. */
export const FIT_TO_TAB = 'fit';
/** The value of the resolution choice that uses the free WxH field. */
export const CUSTOM = 'custom';

/**
 * A WIDTHxHEIGHT pair, or null when `value` is not one.
 */
export function parseResolution(
  value: string
): { width: number; height: number } | null {
  const match = /^\s*(\d+)\s*x\s*(\d+)\s*$/i.exec(value);
  return match ? { width: Number(match[1]), height: Number(match[2]) } : null;
}

/**
 * Check a resolution against the configurable's min/max; returns an error
 * message or '' when it is valid.
 */
export function validateResolution(
  value: string,
  configurable: IConfigurable,
  trans: TranslationBundle
): string {
  const size = parseResolution(value);
  if (!size) {
    return trans.__('Enter the resolution as WIDTHxHEIGHT, e.g. 1280x800.');
  }
  const min = parseResolution(configurable.min ?? '') ?? {
    width: 64,
    height: 64
  };
  const max = parseResolution(configurable.max ?? '') ?? {
    width: 8192,
    height: 8192
  };
  if (
    size.width < min.width ||
    size.height < min.height ||
    size.width > max.width ||
    size.height > max.height
  ) {
    return trans.__(
      'The resolution must be between %1x%2 and %3x%4.',
      min.width,
      min.height,
      max.width,
      max.height
    );
  }
  return '';
}

/** The longest startup data path the server accepts. */
export const MAX_STARTUP_DATA_LENGTH = 4096;

/**
 * Check a startup data path as the server does: relative to the home, without
 * `..` segments or control characters. Returns an error message or ''.
 */
export function validateStartupData(
  value: string,
  trans: TranslationBundle
): string {
  if (!value) {
    return '';
  }
  if (value.length > MAX_STARTUP_DATA_LENGTH) {
    return trans.__(
      'The startup data path is too long (at most %1 characters).',
      MAX_STARTUP_DATA_LENGTH
    );
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f]/.test(value)) {
    return trans.__(
      'The startup data path must not contain control characters.'
    );
  }
  if (value.startsWith('/') || value.split('/').includes('..')) {
    return trans.__(
      'The startup data must be a path relative to your home, without "..".'
    );
  }
  return '';
}

/**
 * Fit a size into the configurable's min/max bounds.
 */
export function clampResolution(
  width: number,
  height: number,
  configurable: IConfigurable
): string {
  const min = parseResolution(configurable.min ?? '') ?? {
    width: 64,
    height: 64
  };
  const max = parseResolution(configurable.max ?? '') ?? {
    width: 8192,
    height: 8192
  };
  const w = Math.min(max.width, Math.max(min.width, Math.floor(width)));
  const h = Math.min(max.height, Math.max(min.height, Math.floor(height)));
  return `${w}x${h}`;
}

/**
 * The body of the start dialog. Built with DOM calls and `textContent` only:
 * names and descriptions come from image labels.
 */
export class StartDialogBody
  extends Widget
  implements Dialog.IBodyWidget<IStartConfigurables>
{
  constructor(options: StartDialogBody.IOptions) {
    super();
    this._options = options;
    const { entry, trans } = options;
    this.addClass('jp-RemoteApp-startDialog');

    const description = document.createElement('p');
    description.textContent = entry.image.description;
    this.node.appendChild(description);

    for (const configurable of entry.image.configurables) {
      if (configurable.tag === 'resolution') {
        this._resolution = configurable;
        this._buildResolution(configurable);
      } else if (configurable.tag === 'startupdata') {
        this._startupData = configurable;
        this._buildStartupData(configurable);
      }
    }

    this._error = document.createElement('div');
    this._error.className = 'jp-RemoteApp-error jp-RemoteApp-formError';
    this._error.setAttribute('role', 'alert');
    this._error.textContent = options.error ?? '';
    this._error.hidden = !options.error;
    this.node.appendChild(this._error);
    void trans;
  }

  /**
   * The choices, or throws an Error with a message when they are invalid.
   */
  getValue(): IStartConfigurables {
    const value: IStartConfigurables = {};
    if (this._resolution && this._resolutionSelect) {
      const choice = this._resolutionSelect.value;
      value.resolution =
        choice === FIT_TO_TAB
          ? this._options.fitResolution
          : choice === CUSTOM
            ? (this._customInput?.value ?? '').trim()
            : choice;
    }
    if (this._startupData && this._startupInput) {
      const path = this._startupInput.value.trim();
      if (path) {
        value.startupdata = path;
      }
    }
    return value;
  }

  /**
   * Check the choices; returns an error message or ''.
   */
  validate(value: IStartConfigurables): string {
    const { trans } = this._options;
    if (this._resolution && value.resolution !== undefined) {
      const error = validateResolution(
        value.resolution,
        this._resolution,
        trans
      );
      if (error) {
        return error;
      }
    }
    if (value.startupdata !== undefined) {
      return validateStartupData(value.startupdata, trans);
    }
    return '';
  }

  private _buildResolution(configurable: IConfigurable): void {
    const { trans, fitResolution, defaultResolution, initial } = this._options;
    const label = document.createElement('label');
    label.textContent = trans.__('Resolution');
    const select = document.createElement('select');
    select.className = 'jp-mod-styled jp-RemoteApp-resolution';
    const add = (value: string, text: string) => {
      const option = document.createElement('option');
      option.value = value;
      option.textContent = text;
      select.appendChild(option);
    };
    add(FIT_TO_TAB, trans.__('Fit to the tab (%1)', fitResolution));
    const presets = new Set<string>([
      ...(configurable.presets ?? []),
      defaultResolution,
      configurable.default
    ]);
    for (const preset of presets) {
      if (preset && parseResolution(preset)) {
        add(preset, preset);
      }
    }
    add(CUSTOM, trans.__('Other…'));

    const custom = document.createElement('input');
    custom.type = 'text';
    custom.className = 'jp-mod-styled jp-RemoteApp-customResolution';
    custom.placeholder = trans.__('WIDTHxHEIGHT');
    custom.setAttribute('aria-label', trans.__('Custom resolution'));
    custom.value = initial?.resolution ?? defaultResolution;

    const previous = initial?.resolution;
    if (previous && previous !== fitResolution) {
      select.value = presets.has(previous) ? previous : CUSTOM;
    } else {
      select.value = FIT_TO_TAB;
    }
    const sync = () => {
      custom.hidden = select.value !== CUSTOM;
    };
    select.addEventListener('change', sync);
    sync();

    label.appendChild(select);
    this.node.appendChild(label);
    this.node.appendChild(custom);
    this._resolutionSelect = select;
    this._customInput = custom;
  }

  private _buildStartupData(configurable: IConfigurable): void {
    const { trans, entry, selectedPath, initial } = this._options;
    if (!entry.policy.allow_startup_data) {
      return;
    }
    const label = document.createElement('label');
    label.textContent = trans.__('Startup data (a path in your home)');
    const row = document.createElement('div');
    row.className = 'jp-RemoteApp-row';
    const input = document.createElement('input');
    input.type = 'text';
    input.className = 'jp-mod-styled jp-RemoteApp-startupData';
    input.placeholder = trans.__('e.g. data/input.csv');
    input.setAttribute('aria-label', trans.__('Startup data'));
    input.value = initial?.startupdata ?? configurable.default ?? '';
    row.appendChild(input);
    if (selectedPath) {
      const pick = document.createElement('button');
      pick.type = 'button';
      pick.className = 'jp-mod-styled jp-RemoteApp-pickFile';
      pick.textContent = trans.__('Use the selected file');
      pick.title = selectedPath;
      pick.addEventListener('click', () => {
        input.value = selectedPath;
      });
      row.appendChild(pick);
    }
    label.appendChild(row);
    this.node.appendChild(label);
    this._startupInput = input;
  }

  private _options: StartDialogBody.IOptions;
  private _resolution: IConfigurable | null = null;
  private _startupData: IConfigurable | null = null;
  private _resolutionSelect: HTMLSelectElement | null = null;
  private _customInput: HTMLInputElement | null = null;
  private _startupInput: HTMLInputElement | null = null;
  private _error: HTMLElement;
}

export namespace StartDialogBody {
  export interface IOptions {
    entry: IApplicationEntry;
    trans: TranslationBundle;
    /** The resolution that fills the main area. */
    fitResolution: string;
    /** The `defaultResolution` setting. */
    defaultResolution: string;
    /** The path of the file selected in the file browser, if any. */
    selectedPath?: string;
    /** Values to show again (after a validation error). */
    initial?: IStartConfigurables;
    /** A validation error to show. */
    error?: string;
  }
}

/**
 * Ask for the configurables; resolves with null when the user cancels.
 * Invalid input shows the dialog again with the error.
 */
export async function askConfigurables(
  options: Omit<StartDialogBody.IOptions, 'initial' | 'error'>
): Promise<IStartConfigurables | null> {
  const { trans, entry } = options;
  let initial: IStartConfigurables | undefined;
  let error = '';
  for (;;) {
    const body = new StartDialogBody({ ...options, initial, error });
    const result = await new Dialog<IStartConfigurables>({
      title: trans.__('Start %1', entry.image.ui_name),
      body,
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.okButton({ label: trans.__('Start') })
      ],
      focusNodeSelector: 'select, input'
    }).launch();
    if (!result.button.accept || !result.value) {
      return null;
    }
    error = body.validate(result.value);
    if (!error) {
      return result.value;
    }
    initial = result.value;
  }
}
