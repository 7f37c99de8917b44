//! A one-line text field: the value and a cursor, edited by key actions.

/// A one-line text input. The cursor counts characters, not bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextInput {
    value: String,
    cursor: usize,
    /// Accept only ASCII digits (for millisecond and second fields).
    digits_only: bool,
}

/// The longest value a field keeps; more is ignored, so a paste can't grow it without end.
pub const MAX_INPUT_CHARS: usize = 512;

impl TextInput {
    /// An empty field.
    pub fn new() -> Self {
        Self::default()
    }

    /// A field with a value, cursor at the end.
    pub fn with_value(value: &str) -> Self {
        Self {
            value: value.to_string(),
            cursor: value.chars().count(),
            digits_only: false,
        }
    }

    /// A field that accepts digits only.
    pub fn digits(value: &str) -> Self {
        Self {
            digits_only: true,
            ..Self::with_value(value)
        }
    }

    /// The text.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The cursor, in characters from the start.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Replaces the text, cursor at the end.
    pub fn set(&mut self, value: &str) {
        self.value = value.to_string();
        self.cursor = value.chars().count();
    }

    fn byte_at(&self, char_index: usize) -> usize {
        self.value
            .char_indices()
            .nth(char_index)
            .map(|(i, _)| i)
            .unwrap_or(self.value.len())
    }

    /// Types a character at the cursor; control characters are ignored.
    pub fn insert(&mut self, c: char) {
        if c.is_control()
            || (self.digits_only && !c.is_ascii_digit())
            || self.value.chars().count() >= MAX_INPUT_CHARS
        {
            return;
        }
        let at = self.byte_at(self.cursor);
        self.value.insert(at, c);
        self.cursor += 1;
    }

    /// Types a pasted string (newlines and other control characters dropped).
    pub fn insert_str(&mut self, s: &str) {
        for c in s.chars() {
            self.insert(c);
        }
    }

    /// Deletes the character before the cursor.
    pub fn backspace(&mut self) {
        if self.cursor == 0 {
            return;
        }
        self.cursor -= 1;
        let at = self.byte_at(self.cursor);
        self.value.remove(at);
    }

    /// Deletes the character under the cursor.
    pub fn delete(&mut self) {
        if self.cursor < self.value.chars().count() {
            let at = self.byte_at(self.cursor);
            self.value.remove(at);
        }
    }

    /// Moves the cursor one character left.
    pub fn left(&mut self) {
        self.cursor = self.cursor.saturating_sub(1);
    }

    /// Moves the cursor one character right.
    pub fn right(&mut self) {
        self.cursor = (self.cursor + 1).min(self.value.chars().count());
    }

    /// Moves the cursor to the start.
    pub fn home(&mut self) {
        self.cursor = 0;
    }

    /// Moves the cursor to the end.
    pub fn end(&mut self) {
        self.cursor = self.value.chars().count();
    }

    /// Clears the text.
    pub fn clear(&mut self) {
        self.value.clear();
        self.cursor = 0;
    }

    /// Applies an editing action (typing, paste, deletion, cursor moves, Ctrl-U);
    /// returns false for an action that doesn't edit text.
    pub fn edit(&mut self, action: &crate::tui::action::Action) -> bool {
        use crate::tui::action::Action;
        match action {
            Action::Char(c) => self.insert(*c),
            Action::Paste(s) => self.insert_str(s),
            Action::Backspace => self.backspace(),
            Action::Delete => self.delete(),
            Action::ClearField => self.clear(),
            Action::Left => self.left(),
            Action::Right => self.right(),
            Action::Top => self.home(),
            Action::Bottom => self.end(),
            _ => return false,
        }
        true
    }

    /// The part of the text that fits in `width` columns with the cursor visible, and the
    /// cursor's column within it.
    pub fn visible(&self, width: usize) -> (String, usize) {
        let width = width.max(1);
        let chars: Vec<char> = self.value.chars().collect();
        let start = (self.cursor + 1).saturating_sub(width);
        let shown: String = chars.iter().skip(start).take(width).collect();
        (shown, self.cursor - start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editing_moves_the_cursor_by_characters() {
        let mut input = TextInput::new();
        for c in "héllo".chars() {
            input.insert(c);
        }
        assert_eq!(input.value(), "héllo");
        input.left();
        input.left();
        input.backspace();
        assert_eq!(input.value(), "hélo");
        input.home();
        input.delete();
        assert_eq!(input.value(), "élo");
        input.end();
        input.insert('!');
        assert_eq!(input.value(), "élo!");
        input.insert('\n');
        assert_eq!(input.value(), "élo!");
    }

    #[test]
    fn ctrl_u_clears_and_non_editing_actions_are_left_alone() {
        use crate::tui::action::Action;
        let mut input = TextInput::with_value("observer");
        assert!(input.edit(&Action::ClearField));
        assert_eq!(input.value(), "");
        assert!(input.edit(&Action::Char('/')));
        assert!(!input.edit(&Action::Enter));
        assert_eq!(input.value(), "/");
    }

    #[test]
    fn digit_fields_refuse_letters_and_long_values_scroll() {
        let mut input = TextInput::digits("50");
        input.insert_str("0x0");
        assert_eq!(input.value(), "5000");
        let long = TextInput::with_value("abcdefghij");
        assert_eq!(long.visible(4), ("hij".to_string(), 3));
    }
}
