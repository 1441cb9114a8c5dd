/**
 * A side panel whose content is loaded the first time it is shown.
 *
 * The plugin adds the panel (its icon in the side bar) during activation, and
 * the code of the content is only fetched when the user opens the panel (or
 * when the layout restorer shows it after a reload).
 */
import { Message } from '@lumino/messaging';
import { Panel, Widget } from '@lumino/widgets';

export class LazyPanel extends Panel {
  /**
   * @param load makes the content (typically after an `await import(...)`)
   */
  constructor(private _load: () => Promise<Widget>) {
    super();
  }

  /**
   * The content, once loaded (loading it if it is not yet).
   */
  content(): Promise<Widget> {
    if (!this._content) {
      this._content = this._load().then(widget => {
        if (!this.isDisposed) {
          this.addWidget(widget);
        }
        return widget;
      });
    }
    return this._content;
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this.content();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible) {
      void this.content();
    }
  }

  private _content: Promise<Widget> | null = null;
}
