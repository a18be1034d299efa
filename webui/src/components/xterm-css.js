// The xterm stylesheet as text, in the terminal's lazily loaded chunk (see Terminal.jsx).
import css from '@xterm/xterm/css/xterm.css' with { type: 'text' };
export default css;
