// @ts-check
// Bundle entry: only the default export, as anywidget expects (a named `render` export draws a deprecation warning).
import view from "../grid_view.js";

export default view;
